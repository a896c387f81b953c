"""What each report measures: the rows' identity columns, the metrics and the published columns they fill.

Every table of the StyleGAN2 paper (Tables 1-4) and Figure 10 is one :class:`TableSpec`. A report column
has the name of the published CSV's column (``sg2reports/paper_values/``), so our value and the
paper's line up by name; the row identity columns (``keys``) are the CSV's too, so rows line up by value.

- Table 1 (main results, configs A-F on FFHQ and LSUN Car): FID, "path length", precision, recall. The
  caption says path length is PPL with W endpoints without the central crop: preset ``ppl2_wend``.
- Table 2 (generator x discriminator architectures, config E): FID and PPL.
- Table 3 (LSUN Car/Cat/Church/Horse, StyleGAN vs StyleGAN2): FID and PPL.
- Table 4 (spectral normalization, demodulation, path regularization on FFHQ): FID, PPL, precision, recall.
- Figure 10 (LPIPS distance between an image and its projection, generated vs real, StyleGAN vs StyleGAN2
  on LSUN Car and FFHQ): no published numbers, the histograms are the result.

Tables 2-4 print PPL values that equal Table 1's path length where the rows coincide (config E 124.5 vs
125, config F 145.0 in Table 4 row 1, LSUN Car F 415.5 vs 416), so they use ``ppl2_wend`` too.

The rows themselves (which network, which training configuration, which identity values) are the registry
:mod:`sg2model.paper_rows`; :meth:`TableSpec.paper_row` finds the registry row of a report row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sg2eval.errors import Sg2evalError
from sg2model import paper_rows
from sg2model.paper_rows import PaperRow

Better = Literal["lower", "higher"]

#: The published metrics' settings (docs/facts.md, "Metrics"): fid50k, pr50k3, ppl2_wend with 50 000 samples.
PAPER_METRIC_OPTIONS: dict[str, dict[str, Any]] = {
    "fid": {"num": 50_000},
    "pr": {"num": 50_000, "k": 3},
    "ppl": {"preset": "ppl2_wend"},
}


@dataclass(frozen=True)
class Column:
    """Report column ``name`` (= the published CSV column): value ``value`` of registry metric ``metric``."""

    name: str
    metric: str
    value: str
    better: Better


@dataclass(frozen=True)
class TableSpec:
    """One table or figure: identity columns, value columns, the published CSV and default metric options."""

    name: str
    title: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    paper_file: str | None
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    histograms: tuple[str, ...] = ()

    @property
    def metrics(self) -> tuple[str, ...]:
        """Registry metrics the table needs, in column order, each once."""
        return tuple(dict.fromkeys(column.metric for column in self.columns))

    @property
    def paper_rows(self) -> tuple[PaperRow, ...]:
        """The paper's rows of this table (:mod:`sg2model.paper_rows`), in the paper's order."""
        return paper_rows.rows(self.name)

    def paper_row(self, keys: Mapping[str, Any]) -> PaperRow | None:
        """The paper's row that a report row with identity values ``keys`` reproduces; None for rows that
        are none of the paper's (the built-in demo rows, your own)."""
        return paper_rows.find_row(self.name, keys)


def _paper_table(
    name: str, title: str, keys: tuple[str, ...], paper_file: str, ppl_column: str, with_pr: bool
) -> TableSpec:
    columns = [Column("fid", "fid", "fid", "lower"), Column(ppl_column, "ppl", "ppl", "lower")]
    if with_pr:
        columns += [
            Column("precision", "pr", "precision", "higher"),
            Column("recall", "pr", "recall", "higher"),
        ]
    return TableSpec(name, title, keys, tuple(columns), paper_file, PAPER_METRIC_OPTIONS)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _paper_table(
            "table1",
            "StyleGAN2 Table 1: main results",
            ("config", "dataset"),
            "table1_main_results.csv",
            "path_length",
            with_pr=True,
        ),
        _paper_table(
            "table2",
            "StyleGAN2 Table 2: generator and discriminator architectures",
            ("dataset", "generator", "discriminator"),
            "table2_architectures.csv",
            "ppl",
            with_pr=False,
        ),
        _paper_table(
            "table3",
            "StyleGAN2 Table 3: LSUN datasets",
            ("dataset", "model"),
            "table3_lsun.csv",
            "ppl",
            with_pr=False,
        ),
        _paper_table(
            "table4",
            "StyleGAN2 Table 4: spectral normalization",
            ("row",),
            "table4_spectral_norm.csv",
            "ppl",
            with_pr=True,
        ),
        TableSpec(
            "fig10",
            "StyleGAN2 Figure 10: LPIPS distance between images and their projections",
            ("dataset", "model"),
            (
                Column("generated_median", "projection", "generated_median", "lower"),
                Column("real_median", "projection", "real_median", "lower"),
                Column("generated_mean", "projection", "generated_mean", "lower"),
                Column("real_mean", "projection", "real_mean", "lower"),
            ),
            None,
            {"projection": {"num": 100}},
            histograms=("generated", "real"),
        ),
    )
}


def get_table(name: str) -> TableSpec:
    """The spec called ``name``; an unknown name is one error listing the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise Sg2evalError(f"unknown report {name!r}; choose one of {', '.join(TABLES)}") from None
