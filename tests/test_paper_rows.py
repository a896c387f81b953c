"""The registry of the paper's rows (sg2model.paper_rows) and what derives from it.

Every row builds (its network preset exists and gives the registry's architectures and channel base, its
training configuration exists where it has one), the presets, StyleGAN v1 presets, revised configs B–D,
training configs and official-file guesses are the registry's and nothing else, and the registry matches the
published CSVs row for row (shared/reference/paper_values) and docs/paper_rows.md line for line.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch

from sg2model import configs, paper_rows
from sg2model.core.errors import Sg2Error
from sg2model.io.tf_convert import guess_preset
from sg2model.networks import Discriminator, Generator
from sg2model.networks.revised import REVISED_CONFIGS, revised_discriminator, revised_generator
from sg2model.paper_rows import PaperRow
from sg2model.training import CONFIGS, TrainingOptions, get_config
from sg2model.training.options import ResolvedSettings

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO.parent / "shared" / "reference" / "paper_values"
CSV_FILES = {
    "table1": "table1_main_results.csv",
    "table2": "table2_architectures.csv",
    "table3": "table3_lsun.csv",
    "table4": "table4_spectral_norm.csv",
}
SMALL = {"channel_base": 256, "channel_max": 32}  # cheap networks of the same architectures


def row_id(row: PaperRow) -> str:
    return f"{row.table}/{row.key}"


def build_small(row: PaperRow, resolution: int = 16) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The row's G and D at a small size (the registry's architectures, fewer channels)."""
    from sg2model.networks.stylegan1 import StyleGAN1Discriminator, StyleGAN1Generator

    name = row.network.name
    if row.network.family == "stylegan1":
        small = {"z_dim": 16, "w_dim": 16, "mapping_features": 16, **SMALL}
        return (
            StyleGAN1Generator.from_config(name, resolution, **small),
            StyleGAN1Discriminator.from_config(name, resolution, **SMALL),
        )
    small = {"z_dim": 16, "w_dim": 16, "mapping_kwargs": {"num_layers": 2}, **SMALL}
    G = Generator.from_config(name, resolution, demodulate=row.demodulate, **small)
    return G, Discriminator.from_config(name, resolution, **SMALL)


# ----------------------------------------------------------------------------------------------------------
# Every row builds.


@pytest.mark.parametrize("row", paper_rows.ROWS, ids=row_id)
def test_every_row_builds_its_networks(row: PaperRow) -> None:
    torch.manual_seed(0)
    G, D = build_small(row)
    with torch.no_grad():
        img = G(torch.randn(4, 16), None, noise_mode="const")
        logits = D(img, None)
    assert img.shape == (4, 3, 16, 16) and logits.shape == (4, 1) and torch.isfinite(logits).all()
    assert G.config.preset == D.config.preset == row.network.name


@pytest.mark.parametrize("row", paper_rows.ROWS, ids=row_id)
def test_every_row_has_the_registry_spec_and_training(row: PaperRow) -> None:
    net = row.network
    if net.family == "stylegan1":
        from sg2model.networks.stylegan1 import stylegan1_discriminator_spec, stylegan1_generator_spec

        assert stylegan1_generator_spec(net.name, 1024).channel_base == net.channel_base
        assert stylegan1_discriminator_spec(net.name, 1024).channel_base == net.channel_base
        assert not row.demodulate
    else:
        preset = configs.get_preset(net.name)
        g_spec = preset.generator_spec(1024, demodulate=row.demodulate)
        d_spec = preset.discriminator_spec(1024)
        architectures = (g_spec.synthesis.architecture, d_spec.architecture)
        assert architectures == (net.g_architecture, net.d_architecture)
        assert g_spec.synthesis.channel_base == d_spec.channel_base == net.channel_base
        assert g_spec.synthesis.demodulate is (row.switches is None or row.switches.demod)
    if row.training is not None:
        config = get_config(row.training)
        switches = row.switches
        options = TrainingOptions(
            data="unused",
            out="unused",
            config=row.training,
            sn_g=bool(switches and switches.sn_g),
            sn_d=bool(switches and switches.sn_d),
            pl_weight=0.0 if switches and not switches.path_reg else None,
        )
        settings = ResolvedSettings.from_options(options)
        if switches is not None:  # Table 4: P.reg on or off over config F
            assert (settings.pl_weight > 0) is switches.path_reg
        # The config trains the row's network, except for Table 2's pairs (config E's switches, other G/D).
        if row.table != "table2":
            assert config.network_preset == net.name
    assert row.citation.startswith(paper_rows.TABLE_TITLES[row.table])


def test_rows_are_unique_and_found_by_their_identity() -> None:
    assert len({(row.table, row.key) for row in paper_rows.ROWS}) == len(paper_rows.ROWS)
    for row in paper_rows.ROWS:
        assert paper_rows.get_row(row.table, row.key) is row
        for dataset in row.datasets:
            assert paper_rows.find_row(row.table, {**row.report_keys, "dataset": dataset}) is row
        assert paper_rows.find_row(row.table, {**row.report_keys, "dataset": "shapes32"}) is None
    assert paper_rows.find_row("table1", {"config": "E-small", "dataset": "ffhq"}) is None
    assert paper_rows.find_row("table4", {"row": 1}) is paper_rows.get_row("table4", "1")  # compared as text
    with pytest.raises(Sg2Error, match="Table 1 has no row 'G'; its rows: A, B, C, D, E, F, A-large"):
        paper_rows.get_row("table1", "G")
    with pytest.raises(Sg2Error, match="unknown paper table 'table9'"):
        paper_rows.rows("table9")


# ----------------------------------------------------------------------------------------------------------
# Presets, training configs, revised configs and official-file guesses derive from the registry.


def test_presets_are_the_registry_networks() -> None:
    networks = paper_rows.networks("revised", "stylegan2")
    assert set(configs.PRESETS) == {net.name for net in networks}
    for net in networks:
        preset = configs.get_preset(net.name)
        assert (preset.g_architecture, preset.d_architecture, preset.channel_base) == (
            net.g_architecture,
            net.d_architecture,
            net.channel_base,
        )
        assert preset.paper_row == paper_rows.cite_network(net.name)
        for row in paper_rows.network_rows(net.name):
            assert row.citation in preset.paper_row or row.table == "table4"
    assert "Table 4 rows 1–7" in configs.get_preset("F").paper_row
    assert configs.G_ARCHITECTURES == configs.D_ARCHITECTURES == paper_rows.ARCHITECTURES


def test_stylegan1_presets_and_revised_configs_are_the_registry_networks() -> None:
    from sg2model.networks.stylegan1 import STYLEGAN1_PRESETS

    assert STYLEGAN1_PRESETS == {"A": 16384, "A-large": 32768}
    assert STYLEGAN1_PRESETS == {net.name: net.channel_base for net in paper_rows.networks("stylegan1")}
    assert REVISED_CONFIGS == ("B", "C", "D") == tuple(net.name for net in paper_rows.networks("revised"))
    G = revised_generator(16, "B", **SMALL, mapping_kwargs={"num_layers": 2})
    D = revised_discriminator(16, "C", **SMALL)
    assert (G.config.preset, G.config.synthesis.architecture, D.config.preset) == ("B", "orig", "C")
    with pytest.raises(Sg2Error, match="not a revised-StyleGAN config; choose one of B, C, D"):
        revised_generator(16, "E")


def test_training_configs_train_their_table1_rows() -> None:
    trainable = [row for row in paper_rows.rows("table1") if row.training is not None]
    assert [row.key for row in trainable] == sorted(CONFIGS)
    for row in trainable:
        config = get_config(row.key)
        assert row.training == row.key and config.row is row and config.name == row.key
        assert config.network_preset == row.network.name and config.paper_row == row.citation
    assert {row.training for row in paper_rows.ROWS} - {None} <= set(CONFIGS)
    assert [row.key for row in paper_rows.rows("table1") if row.training is None] == ["A", "A-large"]


@pytest.mark.parametrize("config", ["B", "C", "D"])
def test_configs_b_to_d_train_the_same_networks_as_before(config: str) -> None:
    """Configs B–D trained preset 'E-orig-orig' before the registry and train presets B–D now: the same
    'orig' G and D at channel base 16384 (equal specs apart from the preset name, equal weights from the
    same seed), so no number moves; network files now name the Table 1 row (preset 'B', not 'E-orig-orig')."""
    from sg2model.training.loop import build_networks

    small = {**SMALL, "img_channels": 3}
    options = TrainingOptions(data="unused", out="unused", config=config, map_layers=2, w_dim=16, **SMALL)
    torch.manual_seed(0)
    G, D = build_networks(options, ResolvedSettings.from_options(options), 16, 3)
    torch.manual_seed(0)
    G_before = Generator.from_config(
        "E-orig-orig", 16, demodulate=True, mapping_kwargs={"num_layers": 2}, z_dim=16, w_dim=16, **small
    )
    D_before = Discriminator.from_config("E-orig-orig", 16, **small)
    assert (G.config.preset, D.config.preset) == (config, config)
    assert (G_before.config.preset, D_before.config.preset) == ("E-orig-orig", "E-orig-orig")
    for now, before in ((G, G_before), (D, D_before)):
        assert dataclasses.replace(now.config, preset=None) == dataclasses.replace(before.config, preset=None)
        state, state_before = now.state_dict(), before.state_dict()
        assert state.keys() == state_before.keys()
        assert all(torch.equal(state[k], state_before[k]) for k in state)


def test_official_file_names_give_the_registry_presets() -> None:
    tagged = [net for net in paper_rows.networks() if net.official_tag]
    assert {net.name for net in paper_rows.networks()} - {net.name for net in tagged} == {"A-large"}
    for net in tagged:
        for dataset in ("ffhq", "car"):
            name = f"stylegan2-{dataset}-{net.official_tag}.pkl"
            assert guess_preset(name, net.family, net.channel_base) == net.name
            assert guess_preset(f"table2/{name}", net.family, net.channel_base) == net.name
    assert guess_preset("my-stylegan1.pkl", "stylegan1", 32768) == "A-large"  # the only v1 network so wide
    assert guess_preset("my-revised.pkl", "revised", 16384) is None  # B, C and D share the architecture


# ----------------------------------------------------------------------------------------------------------
# The published CSVs and the docs list the same rows.


def csv_lines(table: str) -> list[dict[str, str]]:
    with (PAPER / CSV_FILES[table]).open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("table", sorted(CSV_FILES))
def test_published_rows_are_the_registry_rows(table: str) -> None:
    lines = csv_lines(table)
    found = []
    for line in lines:
        row = paper_rows.find_row(table, line)
        assert row is not None, line
        found.append((row.key, line.get("dataset", "ffhq")))
        if table == "table1":
            assert line["description"] == row.description
        if table == "table3":
            assert line["config"] == row.network.name
        if table == "table4":
            assert row.switches is not None
            assert row.switches.columns() == {name: line[name] for name in row.switches.columns()}
    expected = [(row.key, dataset) for row in paper_rows.rows(table) for dataset in row.datasets]
    assert sorted(found) == sorted(expected) and len(set(found)) == len(found)


def test_docs_list_every_row() -> None:
    text = (REPO / "docs" / "paper_rows.md").read_text(encoding="utf-8")
    listed = [line for line in text.splitlines() if line.startswith("| `table") or line.startswith("| `fig")]
    expected = []
    for row in paper_rows.ROWS:
        identity = ", ".join(f"{name} = `{value}`" for name, value in row.identity)
        training = f"`{row.training}`" if row.training else "—"
        net = row.network
        expected.append(
            f"| `{row.table}` | `{row.key}` | {identity} | {', '.join(row.datasets)} | `{net.name}` | "
            f"{net.family} | {net.g_architecture} / {net.d_architecture} | {net.channel_base} | {training} | "
            f"{'yes' if row.published else 'no'} | {row.description} |"
        )
    assert listed == expected
