"""The rows of the StyleGAN2 paper's tables in one place: network, training configuration, report key.

Every row of Table 1 (configs A–F and "Config A with large networks"), Table 2 (the nine generator x
discriminator architectures of Figure 7), Table 3 (StyleGAN vs StyleGAN2 on four LSUN categories), Table 4
(spectral normalization, Appendix E) and Figure 10 (projection, Section 5) is one :class:`PaperRow`. It
says which network builds the row (:class:`PaperNetwork`: code family, architectures, channel base, the tag
of NVIDIA's file names), which training configuration of :mod:`sg2model.training` has the paper's switches
for it, and how the row is keyed in the published CSVs and the report manifests (``shared/reference/
paper_values/*.csv``; :mod:`sg2reports`).

Everything else refers to this registry instead of restating it: the network presets of
:mod:`sg2model.configs` (StyleGAN2 and revised-StyleGAN networks) and :mod:`sg2model.networks.stylegan1`
(configs A and A-large), the revised configs B–D of :mod:`sg2model.networks.revised`, the training
configurations ``sg2model.training.CONFIGS`` (config X trains the network of Table 1 row X), the preset
guessed for an official file (:func:`sg2model.io.tf_convert.guess_preset`) and the report tables and
manifests of :mod:`sg2reports`. docs/paper_rows.md lists the rows.

Paper facts behind the entries (StyleGAN2 paper, shared/papers/):

- Table 1: A is StyleGAN [Karras et al. 2019] with progressive growing; B–D keep progressive growing and
  replace AdaIN by weight demodulation (Section 2.2, Appendix B "Generator redesign"); C adds lazy
  regularization (Section 3.1), D path length regularization (Section 3.2); E drops progressive growing
  for the output-skip generator and the residual discriminator (Section 4.1); F doubles the feature maps
  at 64²–1024² (footnote 4). Channel bases follow docs/facts.md, "Synthesis network" (A–E 16384, F 32768).
- Table 2: the three architectures of Figure 7 for G and for D, all without progressive growing; output
  skips in G with a residual D "corresponds to configuration E" (caption), trained with config E's
  switches (R1 gamma 100 as config E, Appendix B "Dataset-specific tuning").
- Table 3: StyleGAN = config A, StyleGAN2 = config F (column heads); Appendix B uses gamma 100 instead of
  10 for LSUN Church and Horse, a per-run choice that ``--gamma`` sets.
- Table 4: row 1 is config F; the other rows switch on SN in G and/or D and off demodulation and/or path
  length regularization (Appendix E).
- Figure 10: "the original StyleGAN and StyleGAN2" on LSUN Car and FFHQ, i.e. configs A and F.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sg2model.core.errors import Sg2Error

Family = Literal["stylegan1", "revised", "stylegan2"]

#: The three designs of Figure 7 (the architectures of Table 2): feed-forward, skips, residual.
ARCHITECTURES = ("orig", "skip", "resnet")
#: How Table 2 (and its CSV) names each architecture, for G and for D.
TABLE2_GENERATOR = {"orig": "original", "skip": "output_skips", "resnet": "residual"}
TABLE2_DISCRIMINATOR = {"orig": "original", "skip": "input_skips", "resnet": "residual"}
#: How the report manifests and CSVs name the tables (``sg2reports`` report names) and how the paper does.
TABLE_TITLES = {
    "table1": "Table 1",
    "table2": "Table 2",
    "table3": "Table 3",
    "table4": "Table 4",
    "fig10": "Figure 10",
}


@dataclass(frozen=True)
class PaperNetwork:
    """A network configuration of the paper: which code builds it and how.

    ``family``: 'stylegan1' (``G_style``/``D_basic``, :mod:`sg2model.networks.stylegan1`), 'revised' (the
    revised StyleGAN of configs B–D at its final progressive-growing level) or 'stylegan2' (configs E/F and
    Table 2); the last two are built by :class:`sg2model.Generator` / :class:`sg2model.Discriminator`.
    StyleGAN v1 and configs B–D are feed-forward ('orig') networks (Table 2's "original feedforward
    networks as used in StyleGAN").
    """

    name: str  # preset name: sg2model.configs.get_preset / StyleGAN1Generator.from_config
    family: Family
    g_architecture: str
    d_architecture: str
    channel_base: int  # channels at resolution r: min(channel_base // r, 512)
    official_tag: str | None = None  # in NVIDIA's file names: 'config-b', 'config-e-Gorig-Dskip'

    def __post_init__(self) -> None:
        for what, value in (("G", self.g_architecture), ("D", self.d_architecture)):
            if value not in ARCHITECTURES:
                raise Sg2Error(f"{self.name}: {what} architecture {value!r}; choose one of {ARCHITECTURES}")


@dataclass(frozen=True)
class Table4Switches:
    """Table 4's columns: spectral normalization in G and D, weight demodulation, path length reg."""

    sn_g: bool
    sn_d: bool
    demod: bool
    path_reg: bool

    def columns(self) -> dict[str, str]:
        """The switches as Table 4's CSV writes them (``yes``/``no``), in its column order."""
        names = ("sn_g", "sn_d", "demod", "path_reg")
        return {name: "yes" if getattr(self, name) else "no" for name in names}


@dataclass(frozen=True)
class PaperRow:
    """One row of a table (or one model of a figure) of the StyleGAN2 paper.

    ``key`` is unique within ``table``; ``identity`` holds the row's identity columns of the published CSV
    and of report manifests other than ``dataset`` (e.g. ``(("config", "B"),)``), ``datasets`` the
    datasets the paper reports the row on. ``training`` names the :mod:`sg2model.training` configuration
    whose switches the paper's run used (None: our trainer does not train the family, StyleGAN v1);
    ``published``: NVIDIA published the row's networks (as ``...-{network.official_tag}.pkl``).
    """

    table: str
    key: str
    identity: tuple[tuple[str, str], ...]
    description: str  # the paper's words for the row
    network: PaperNetwork
    datasets: tuple[str, ...]
    training: str | None
    published: bool
    switches: Table4Switches | None = None  # Table 4 only

    @property
    def citation(self) -> str:
        """Where the row is in the paper, e.g. ``Table 1, config B: + Weight demodulation``."""
        name = {"table1": f"config {self.key}", "table4": f"row {self.key}"}.get(self.table, self.key)
        return f"{TABLE_TITLES[self.table]}, {name}: {self.description}"

    @property
    def report_keys(self) -> dict[str, str]:
        """The identity columns other than ``dataset``, as a report row or CSV line has them."""
        return dict(self.identity)

    @property
    def demodulate(self) -> bool:
        """Whether G uses weight demodulation (Eq. 3): every StyleGAN2-code row but Table 4's 'Demod –'."""
        return self.network.family != "stylegan1" and (self.switches is None or self.switches.demod)


# ----------------------------------------------------------------------------------------------------------
# The networks.

_A = PaperNetwork("A", "stylegan1", "orig", "orig", 16384, "config-a")
_A_LARGE = PaperNetwork("A-large", "stylegan1", "orig", "orig", 32768)
_REVISED = {
    name: PaperNetwork(name, "revised", "orig", "orig", 16384, f"config-{name.lower()}") for name in "BCD"
}
_E = PaperNetwork("E", "stylegan2", "skip", "resnet", 16384, "config-e")
_F = PaperNetwork("F", "stylegan2", "skip", "resnet", 32768, "config-f")
_TABLE2 = {
    (g, d): PaperNetwork(f"E-{g}-{d}", "stylegan2", g, d, 16384, f"config-e-G{g}-D{d}")
    for g in ARCHITECTURES
    for d in ARCHITECTURES
}

# ----------------------------------------------------------------------------------------------------------
# The rows.

_TABLE1_DATASETS = ("ffhq", "lsun-car")
_TABLE1 = (
    ("A", "Baseline StyleGAN", _A, None),
    ("B", "+ Weight demodulation", _REVISED["B"], "B"),
    ("C", "+ Lazy regularization", _REVISED["C"], "C"),
    ("D", "+ Path length regularization", _REVISED["D"], "D"),
    ("E", "+ No growing, new G & D arch.", _E, "E"),
    ("F", "+ Large networks (StyleGAN2)", _F, "F"),
)
_TABLE4 = (
    Table4Switches(sn_g=False, sn_d=False, demod=True, path_reg=True),
    Table4Switches(sn_g=False, sn_d=True, demod=True, path_reg=True),
    Table4Switches(sn_g=True, sn_d=True, demod=True, path_reg=True),
    Table4Switches(sn_g=True, sn_d=True, demod=False, path_reg=True),
    Table4Switches(sn_g=True, sn_d=True, demod=False, path_reg=False),
    Table4Switches(sn_g=True, sn_d=False, demod=False, path_reg=True),
    Table4Switches(sn_g=True, sn_d=False, demod=False, path_reg=False),
)
_LSUN = ("lsun-car", "lsun-cat", "lsun-church", "lsun-horse")
#: Table 3's columns "StyleGAN (A)" and "StyleGAN2 (F)", also the two models of Figure 10.
_TABLE3 = (("StyleGAN", _A, None), ("StyleGAN2", _F, "F"))


def _table4_description(switches: Table4Switches) -> str:
    """Row 1 "corresponds to StyleGAN2, i.e., config F"; the others add SN-G / SN-D, drop Demod / P.reg."""
    added = [name for name, on in (("SN-G", switches.sn_g), ("SN-D", switches.sn_d)) if on]
    kept = (("Demod", switches.demod), ("P.reg", switches.path_reg))
    return ", ".join(["config F (StyleGAN2)", *added, *(f"no {name}" for name, on in kept if not on)])


def _build_rows() -> tuple[PaperRow, ...]:
    rows = [
        PaperRow("table1", key, (("config", key),), text, net, _TABLE1_DATASETS, training, published=True)
        for key, text, net, training in _TABLE1
    ]
    rows.append(
        PaperRow(
            "table1",
            "A-large",
            (("config", "A-large"),),
            "Config A with large networks",
            _A_LARGE,
            ("ffhq",),
            None,
            published=False,
        )
    )
    for (g, d), net in _TABLE2.items():
        words = (("generator", TABLE2_GENERATOR[g]), ("discriminator", TABLE2_DISCRIMINATOR[d]))
        text = f"G {words[0][1].replace('_', ' ')}, D {words[1][1].replace('_', ' ')}"
        rows.append(PaperRow("table2", net.name, words, text, net, _TABLE1_DATASETS, "E", published=True))
    for model, net, training in _TABLE3:
        text = f"config {net.name}"
        rows.append(PaperRow("table3", model, (("model", model),), text, net, _LSUN, training, True))
    for index, switches in enumerate(_TABLE4, start=1):
        rows.append(
            PaperRow(
                "table4",
                str(index),
                (("row", str(index)),),
                _table4_description(switches),
                _F,
                ("ffhq",),
                "F",
                published=index == 1,
                switches=switches,
            )
        )
    for model, net, training in _TABLE3:
        text = f"config {net.name}"
        rows.append(
            PaperRow("fig10", model, (("model", model),), text, net, ("lsun-car", "ffhq"), training, True)
        )
    return tuple(rows)


#: Every row, in the paper's order (table by table, row by row).
ROWS: tuple[PaperRow, ...] = _build_rows()


def rows(table: str | None = None) -> tuple[PaperRow, ...]:
    """The rows of ``table`` ('table1'..'table4', 'fig10'), or all rows."""
    if table is not None and table not in TABLE_TITLES:
        raise Sg2Error(f"unknown paper table {table!r}; choose one of {', '.join(TABLE_TITLES)}")
    return tuple(row for row in ROWS if table is None or row.table == table)


def get_row(table: str, key: str) -> PaperRow:
    """The row ``key`` of ``table``; an unknown key raises :class:`Sg2Error` listing the known ones."""
    found = [row for row in rows(table) if row.key == key]
    if not found:
        known = ", ".join(row.key for row in rows(table))
        raise Sg2Error(f"{TABLE_TITLES[table]} has no row {key!r}; its rows: {known}")
    return found[0]


def find_row(table: str, keys: Mapping[str, object]) -> PaperRow | None:
    """The row of ``table`` that a report row with identity values ``keys`` reproduces (compared as text;
    ``keys['dataset']``, when given, must be one of the row's datasets), or None for other rows."""
    text = {name: str(value).strip() for name, value in keys.items()}
    for row in rows(table):
        if all(text.get(name) == value for name, value in row.identity):
            if "dataset" not in text or text["dataset"] in row.datasets:
                return row
    return None


def networks(*families: Family) -> tuple[PaperNetwork, ...]:
    """The distinct networks of the rows (in row order), only those of ``families`` when given."""
    found: dict[str, PaperNetwork] = {}
    for row in ROWS:
        if not families or row.network.family in families:
            found.setdefault(row.network.name, row.network)
    return tuple(found.values())


def network_rows(name: str) -> tuple[PaperRow, ...]:
    """The rows built by the network called ``name``."""
    return tuple(row for row in ROWS if row.network.name == name)


def cite_network(name: str) -> str:
    """Where the network ``name`` appears in the paper: its rows' citations, grouped by table."""
    found = network_rows(name)
    if not found:
        raise Sg2Error(f"no paper row uses a network called {name!r}")
    parts = []
    for table in TABLE_TITLES:
        in_table = [row for row in found if row.table == table]
        if len(in_table) == 1:
            parts.append(in_table[0].citation)
        elif in_table:
            parts.append(f"{TABLE_TITLES[table]} rows {in_table[0].key}–{in_table[-1].key}")
    return "; ".join(parts)


def network_for_tag(tag: str) -> PaperNetwork | None:
    """The network NVIDIA's files tag ``tag`` (``config-c``, ``config-e-Gorig-Dresnet``), if any."""
    return next((net for net in networks() if net.official_tag == tag), None)
