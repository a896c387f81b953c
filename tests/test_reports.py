"""Report recipes (sg2reports): seed statistics against scipy, paper-value alignment with the real CSVs,
manifests, resumption from the cell store, per-row missing files, outputs, the CLI, and end-to-end reports
on tiny networks created here."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from scipy import stats as scipy_stats

from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2model.core.files import sha256_file as file_sha256
from sg2reports import CellStore, MetricEntry, Registry, get_table, load_manifest, run_report, write_report
from sg2reports.paper_values import find_paper_values, load_paper_table, published_values
from sg2reports.stats import difference_in_std, summarize
from sg2reports.tables import TABLES

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "reports" / "sg2reports" / "paper_values"


# ----------------------------------------------------------------------------------------------------------
# Seed statistics.


@pytest.mark.parametrize("n", [2, 3, 10])
def test_summary_matches_scipy_t_interval(n: int) -> None:
    values = np.random.default_rng(n).normal(3.0, 0.2, n)
    s = summarize(values)
    low, high = scipy_stats.t.interval(0.95, n - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert s.n == n and s.mean == pytest.approx(values.mean(), rel=1e-12)
    assert s.std == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-12)
    low90, _ = scipy_stats.t.interval(0.9, n - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert summarize(values, 0.9).ci_low == pytest.approx(low90, rel=1e-12)
    assert difference_in_std(s, 2.5) == pytest.approx((values.mean() - 2.5) / np.std(values, ddof=1))


def test_summary_edge_cases() -> None:
    one = summarize([4.0])
    assert one.mean == 4.0 and math.isnan(one.std) and math.isnan(one.ci_low)
    assert math.isnan(difference_in_std(one, 4.0)) and math.isnan(summarize([]).mean)
    flat = summarize([2.0, 2.0, 2.0])
    assert flat.std == 0 and difference_in_std(flat, 2.0) == 0 and difference_in_std(flat, 1.0) == math.inf
    assert math.isnan(difference_in_std(summarize([1.0, 2.0]), math.nan))


# ----------------------------------------------------------------------------------------------------------
# Published values.


def test_paper_values_ship_with_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_PAPER_VALUES", raising=False)
    assert find_paper_values() == PAPER.resolve()
    files = {spec.paper_file for spec in TABLES.values() if spec.paper_file is not None}
    assert len(files) == 4 and all((PAPER / name).is_file() for name in files)


@pytest.mark.parametrize(
    ("table", "row", "expected"),
    [
        (
            "table1",
            {"config": "F", "dataset": "lsun-car"},
            {"fid": 2.32, "path_length": 415.5, "precision": 0.678, "recall": 0.514},
        ),
        (
            "table1",
            {"config": "A-large", "dataset": "ffhq"},
            {"fid": 3.98, "path_length": 199.2, "precision": 0.716, "recall": 0.422},
        ),
        (
            "table2",
            {"dataset": "ffhq", "generator": "output_skips", "discriminator": "residual"},
            {"fid": 3.31, "ppl": 125},
        ),
        (
            "table2",
            {"dataset": "lsun-car", "generator": "residual", "discriminator": "residual"},
            {"fid": 2.66, "ppl": 645},
        ),
        ("table3", {"dataset": "lsun-horse", "model": "StyleGAN2"}, {"fid": 3.43, "ppl": 338}),
        ("table4", {"row": 5}, {"fid": 3.33, "ppl": 394.9, "precision": 0.705, "recall": 0.463}),
    ],
)
def test_published_values_align_by_row_and_column_names(table: str, row: dict, expected: dict) -> None:
    spec = get_table(table)
    assert published_values(spec, load_paper_table(spec, find_paper_values()), row) == expected


def test_unpublished_rows_and_figures_have_no_paper_value() -> None:
    spec = get_table("table1")
    found = published_values(spec, load_paper_table(spec, PAPER), {"config": "F", "dataset": "shapes"})
    assert set(found) == {"fid", "path_length", "precision", "recall"} and all(
        map(math.isnan, found.values())
    )
    assert load_paper_table(get_table("fig10"), PAPER) is None


def test_paper_values_folder_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = pd.read_csv(PAPER / "table3_lsun.csv")
    table.loc[table["dataset"] == "lsun-cat", "fid"] = 1.25
    table.to_csv(tmp_path / "table3_lsun.csv", index=False)
    monkeypatch.setenv("SG2EVAL_PAPER_VALUES", str(tmp_path))
    spec = get_table("table3")
    assert (
        published_values(
            spec, load_paper_table(spec, find_paper_values()), {"dataset": "lsun-cat", "model": "StyleGAN"}
        )["fid"]
        == 1.25
    )
    assert find_paper_values(PAPER) == PAPER  # --paper-values wins over the environment
    with pytest.raises(Sg2evalError, match="is missing from the paper values folder"):
        load_paper_table(get_table("table1"), find_paper_values())
    with pytest.raises(Sg2evalError, match="--paper-values.*does not exist"):
        find_paper_values(tmp_path / "nope")


# ----------------------------------------------------------------------------------------------------------
# Manifests and cheap injected metrics.


def write_manifest(path: Path, table: str, rows: list[dict[str, Any]], extra: str = "") -> Path:
    lines = [
        f'table = "{table}"',
        "",
        "[datasets.toy]",
        'path = "data.npy"',
        "[datasets.ffhq]",
        'path = "data.npy"',
    ]
    lines += ["", extra]
    for row in rows:
        lines += ["", "[[rows]]"] + [f"{k} = {json.dumps(v)}" for k, v in row.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Counting:
    """Cheap metric functions whose values depend on the network bytes, the dataset bytes and the seed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def _base(self, metric: str, network: Path, dataset: Path | None, seed: int) -> float:
        self.calls.append((metric, network.name, seed))
        data = float(np.load(dataset).sum()) if dataset is not None else 0.0
        return float(network.read_bytes()[0]) + data + seed

    def registry(self) -> Registry:
        def fid(
            network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]
        ) -> dict[str, float]:
            return {"fid": self._base("fid", network, dataset, seed) * options.get("scale", 1)}

        def ppl(
            network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]
        ) -> dict[str, float]:
            assert dataset is None
            return {"ppl": 100 + self._base("ppl", network, None, seed) ** 2}

        def pr(
            network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]
        ) -> dict[str, float]:
            base = self._base("pr", network, dataset, seed)
            return {"precision": 1 / (1 + base), "recall": 1 - 1 / (2 + base)}

        return {"fid": MetricEntry(fid), "ppl": MetricEntry(ppl, needs_dataset=False), "pr": MetricEntry(pr)}


@pytest.fixture()
def toy(tmp_path: Path) -> dict[str, Path]:
    np.save(tmp_path / "data.npy", np.full((2, 8, 8, 3), 1, np.uint8))  # sum 384
    (tmp_path / "a.pkl").write_bytes(bytes([3, 0]))
    (tmp_path / "f.pkl").write_bytes(bytes([5, 0]))
    rows = [
        {"config": "A", "dataset": "ffhq", "network": "a.pkl"},
        {"config": "F", "dataset": "ffhq", "network": "f.pkl"},
    ]
    return {"root": tmp_path, "manifest": write_manifest(tmp_path / "t1.toml", "table1", rows)}


def expected_fid(first_byte: int, seeds: int) -> list[float]:
    return [first_byte + 384.0 + s for s in range(seeds)]


def test_report_assembly_seed_averaging_and_resumption(toy: dict[str, Path]) -> None:
    counting = Counting()
    manifest = load_manifest(toy["manifest"], "table1")
    store = CellStore(toy["root"] / "cells")
    report = run_report(manifest, seeds=3, store=store, registry=counting.registry(), progress=True)
    assert report.computed == len(counting.calls) == 2 * 3 * 3 and report.reused == 0
    table = report.table()
    assert list(table["config"]) == ["A", "F"] and list(table["seeds"]) == [3, 3]
    for config, first in (("A", 3), ("F", 5)):
        line = table[table["config"] == config].iloc[0]
        fids = expected_fid(first, 3)
        low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean(fids), scale=scipy_stats.sem(fids))
        assert line["fid"] == pytest.approx(np.mean(fids)) and line["fid_std"] == pytest.approx(1.0)
        assert (line["fid_ci_low"], line["fid_ci_high"]) == pytest.approx((low, high))
        paper_fid = {"A": 4.40, "F": 2.84}[config]
        assert line["fid_paper"] == paper_fid and line["fid_diff_std"] == pytest.approx(
            np.mean(fids) - paper_fid
        )
        ppl = [100 + (first + s) ** 2 for s in range(3)]
        assert line["path_length"] == pytest.approx(np.mean(ppl))
        assert line["path_length_std"] == pytest.approx(np.std(ppl, ddof=1))
        assert line["recall_paper"] == {"A": 0.399, "F": 0.492}[config] and line["status"] == "ok"
    long = report.cells_frame()
    assert len(long) == 2 * 3 * 4 and set(long["value_name"]) == {"fid", "ppl", "precision", "recall"}

    # A second run computes nothing and gives the same table.
    again = run_report(manifest, seeds=3, store=store, registry=counting.registry())
    assert again.computed == 0 and again.reused == 18 and len(counting.calls) == 18
    pd.testing.assert_frame_equal(again.table(), table)
    # More seeds: only the new ones are computed.
    more = run_report(manifest, seeds=4, store=store, registry=counting.registry())
    assert more.computed == 2 * 3 and {seed for _, _, seed in counting.calls[18:]} == {3}
    # A changed dataset invalidates the metrics that read it, not PPL.
    np.save(toy["root"] / "data.npy", np.full((2, 8, 8, 3), 2, np.uint8))  # sum 768
    changed = run_report(manifest, seeds=4, store=store, registry=counting.registry())
    assert changed.computed == 2 * 2 * 4 and changed.reused == 2 * 4
    assert {m for m, _, _ in counting.calls[24:]} == {"fid", "pr"}
    # Changed options are a new key too; the run-only ones (device, batch size) are not.
    write_manifest(
        toy["manifest"],
        "table1",
        [{"config": "A", "dataset": "ffhq", "network": "a.pkl"}],
        "[metrics.fid]\nscale = 2\ndevice = 'cpu'",
    )
    scaled = run_report(
        load_manifest(toy["manifest"]),
        seeds=4,
        store=store,
        registry=counting.registry(),
        overrides={"batch_size": 7},
    )
    assert scaled.computed == 4 and scaled.table()["fid"][0] == pytest.approx(2 * (3 + 768 + 1.5))


def test_network_replaced_with_same_size_and_mtime_is_recomputed(toy: dict[str, Path]) -> None:
    counting = Counting()
    manifest = load_manifest(toy["manifest"])
    store = CellStore(toy["root"] / "cells")
    first = run_report(manifest, seeds=1, rows=["A/*"], store=store, registry=counting.registry())
    network = toy["root"] / "a.pkl"
    before = network.stat()
    network.write_bytes(bytes([9, 0]))  # same size; the old modification time is put back
    os.utime(network, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (network.stat().st_size, network.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    again = run_report(manifest, seeds=1, rows=["A/*"], store=store, registry=counting.registry())
    assert again.computed == 3 and again.reused == 0
    assert first.table()["fid"][0] == pytest.approx(3 + 384)
    assert again.table()["fid"][0] == pytest.approx(9 + 384)
    assert again.rows[0].network_sha256 == file_sha256(network) != first.rows[0].network_sha256


def test_interrupted_run_keeps_finished_cells(toy: dict[str, Path]) -> None:
    counting = Counting()
    registry = counting.registry()
    original = registry["ppl"].fn

    def flaky(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> Any:
        if seed == 1:
            raise KeyboardInterrupt
        return original(network, dataset, seed, options)

    registry["ppl"] = MetricEntry(flaky, needs_dataset=False)
    store = CellStore(toy["root"] / "cells")
    with pytest.raises(KeyboardInterrupt):
        run_report(load_manifest(toy["manifest"]), seeds=2, store=store, registry=registry)
    assert [m for m, _, _ in counting.calls] == ["fid", "fid", "ppl"]
    leftovers = [p for p in (toy["root"] / "cells").rglob("*") if p.is_file() and p.suffix != ".json"]
    assert leftovers == []
    resumed = run_report(load_manifest(toy["manifest"]), seeds=2, store=store, registry=counting.registry())
    assert resumed.reused == 3 and resumed.computed == 2 * 3 * 2 - 3


def test_missing_files_are_reported_per_row_and_the_rest_runs(toy: dict[str, Path]) -> None:
    root = toy["root"]
    np.save(root / "other.npy", np.zeros((2, 8, 8, 3), np.uint8))
    extra = '[datasets.gone]\npath = "gone.zip"\nhow_to_get = "unpack gone.zip from the archive"\n'
    rows = [
        {"config": "A", "dataset": "toy", "network": "a.pkl"},
        {"config": "B", "dataset": "ffhq", "network": "b.pkl", "url": "https://example.org/b.pkl"},
        {"config": "F", "dataset": "gone", "network": "f.pkl"},
        {"config": "E", "dataset": "toy", "network": "a.pkl", "sha256": "00" * 32},
    ]
    manifest = load_manifest(write_manifest(root / "m.toml", "table1", rows, extra))
    counting = Counting()
    report = run_report(manifest, seeds=2, store=CellStore(root / "cells"), registry=counting.registry())
    problems = {(p.row, p.problem): p for p in report.problems}
    missing = problems[("B/ffhq", "network missing")]
    assert "b.pkl not found" in missing.detail and "download https://example.org/b.pkl" in missing.detail
    assert missing.metrics == ("fid", "ppl", "pr")
    gone = problems[("F/gone", "dataset missing")]
    assert "gone.zip not found; unpack gone.zip from the archive" in gone.detail and gone.metrics == (
        "fid",
        "pr",
    )
    assert "expects 0000000000000000" in problems[("E/toy", "network unusable")].detail
    table = report.table().set_index("config")
    assert table.loc["A", "status"] == "ok" and table.loc["A", "seeds"] == 2
    assert math.isnan(table.loc["F", "fid"]) and not math.isnan(table.loc["F", "path_length"])
    assert table.loc["F", "status"] == "dataset missing" and table.loc["B", "status"] == "network missing"
    assert table.loc["B", "fid_paper"] == 4.39  # published values are shown even for rows not computed
    assert sorted({name for _, name, _ in counting.calls}) == ["a.pkl", "f.pkl"]
    # A metric that fails with a one-line error is reported for its row and metric only.
    registry = counting.registry()
    registry["pr"] = MetricEntry(lambda n, d, s, o: (_ for _ in ()).throw(Sg2evalError("no VGG16 weights")))
    failed = run_report(manifest, seeds=2, store=CellStore(root / "cells2"), registry=registry, rows=["A/*"])
    assert [(p.row, p.problem, p.detail) for p in failed.problems] == [
        ("A/toy", "pr failed", "no VGG16 weights")
    ]
    assert failed.table()["fid"][0] == pytest.approx(3 + 384 + 0.5)


def test_row_selection(toy: dict[str, Path]) -> None:
    manifest = load_manifest(toy["manifest"])
    assert [r.label for r in manifest.select(["F/*"])] == ["F/ffhq"]
    assert [r.label for r in manifest.select(["F/ffhq", "A/ffhq"])] == ["A/ffhq", "F/ffhq"]
    with pytest.raises(Sg2evalError, match="matches no row.*rows: A/ffhq, F/ffhq"):
        manifest.select(["Z/*"])
    counting = Counting()
    report = run_report(
        manifest, seeds=1, rows=["A/ffhq"], store=CellStore(toy["root"] / "c"), registry=counting.registry()
    )
    assert list(report.table()["config"]) == ["A"] and {n for _, n, _ in counting.calls} == {"a.pkl"}


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ([{"config": "A", "network": "a.pkl"}], "", "lacks dataset"),
        ([{"dataset": "toy", "network": "a.pkl"}], "", "lacks config"),
        ([{"config": "A", "dataset": "nope", "network": "a.pkl"}], "", "names dataset 'nope'"),
        ([{"config": "A", "dataset": "toy", "network": "a.pkl"}] * 2, "", "A/toy more than once"),
        (
            [{"config": "A", "dataset": "toy", "network": "a.pkl"}],
            "[metrics.projection]\nnum = 3",
            "does not compute",
        ),
        ([], "", "has no \\[\\[rows\\]\\]"),
    ],
)
def test_manifest_errors(tmp_path: Path, rows: list, extra: str, message: str) -> None:
    with pytest.raises(Sg2evalError, match=message):
        load_manifest(write_manifest(tmp_path / "m.toml", "table1", rows, extra))


def test_manifest_table_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_manifest(
        tmp_path / "m.toml",
        "table2",
        [{"dataset": "toy", "generator": "residual", "discriminator": "residual", "network": "n.pkl"}],
        '[paths]\nnetworks = "nets"',
    )
    with pytest.raises(Sg2evalError, match="manifest for table2, not table1; run 'sg2eval report table2'"):
        load_manifest(path, "table1")
    manifest = load_manifest(path, "table2")
    assert (
        manifest.rows[0].network == tmp_path / "nets" / "n.pkl"
        and manifest.rows[0].label == "toy/residual/residual"
    )
    monkeypatch.setenv("SG2EVAL_NETWORKS", str(tmp_path / "elsewhere"))
    assert load_manifest(path).rows[0].network == tmp_path / "elsewhere" / "n.pkl"
    assert load_manifest(path, networks_dir=tmp_path / "cli").rows[0].network == tmp_path / "cli" / "n.pkl"
    (tmp_path / "bad.toml").write_text("table = [")
    with pytest.raises(Sg2evalError, match="not valid TOML"):
        load_manifest(tmp_path / "bad.toml")


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "fig10"])
def test_official_manifests_parse_and_match_published_rows(table: str) -> None:
    manifest = load_manifest(REPO / "reports" / "manifests" / "official" / f"{table}.toml", table)
    spec = manifest.table
    paper = load_paper_table(spec, PAPER)
    for row in manifest.rows:
        assert row.network.name.endswith((".pkl", ".sg2")) and row.sha256 == ""
        assert row.url.startswith("https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/") or row.how_to_get
        if paper is not None:
            assert not any(map(math.isnan, published_values(spec, paper, row.keys).values())), row.label
    if paper is not None:
        assert len(manifest.rows) == len(paper)


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "fig10"])
def test_official_manifests_name_exactly_the_registry_rows(table: str) -> None:
    """sg2model.paper_rows is the list of rows: each official row is one of its rows on one of its datasets,
    every registry (row, dataset) has a row, and NVIDIA's file is named by the row network's tag."""
    manifest = load_manifest(REPO / "reports" / "manifests" / "official" / f"{table}.toml", table)
    spec = manifest.table
    named = []
    for row in manifest.rows:
        paper_row = row.paper_row
        assert paper_row is not None
        assert paper_row is spec.paper_row({**row.keys, "dataset": row.dataset.name})
        named.append((paper_row.key, row.dataset.name))
        tag = paper_row.network.official_tag
        if paper_row.published:
            assert tag is not None and row.network.name.endswith(f"-{tag}.pkl")
            assert row.url.endswith(f"/{row.network.name}")
        else:
            assert not row.url and "NVIDIA published no network" in row.how_to_get
    expected = [(paper_row.key, dataset) for paper_row in spec.paper_rows for dataset in paper_row.datasets]
    assert sorted(named) == sorted(expected) and len(set(named)) == len(named)
    assert all(set(spec.keys) - {"dataset"} == set(r.report_keys) for r in spec.paper_rows)


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "fig10"])
def test_builtin_manifest_rows_are_no_paper_rows(table: str) -> None:
    manifest = load_manifest(REPO / "sg2eval" / "builtin" / "manifests" / f"{table}.toml", table)
    assert all(row.paper_row is None for row in manifest.rows)


def test_table4_switches_come_from_the_registry(tmp_path: Path) -> None:
    manifest = load_manifest(REPO / "reports" / "manifests" / "official" / "table4.toml", "table4")
    switches = {row.label: row.extra for row in manifest.rows}
    assert switches["1"] == {"sn_g": "no", "sn_d": "no", "demod": "yes", "path_reg": "yes"}
    assert switches["5"] == {"sn_g": "yes", "sn_d": "yes", "demod": "no", "path_reg": "no"}
    assert switches["6"] == {"sn_g": "yes", "sn_d": "no", "demod": "no", "path_reg": "yes"}
    same = [{"row": "2", "dataset": "ffhq", "network": "n.sg2", "sn_d": "yes", "note": "mine"}]
    extra = load_manifest(write_manifest(tmp_path / "same.toml", "table4", same)).rows[0].extra
    assert extra == {"sn_g": "no", "sn_d": "yes", "demod": "yes", "path_reg": "yes", "note": "mine"}
    other = [{"row": "1", "dataset": "toy", "network": "n.sg2", "sn_g": "yes"}]  # not the paper's row 1
    not_paper = load_manifest(write_manifest(tmp_path / "other.toml", "table4", other)).rows[0]
    assert not_paper.paper_row is None and not_paper.extra == {"sn_g": "yes"}
    wrong = [{"row": "2", "dataset": "ffhq", "network": "n.sg2", "sn_d": "no"}]
    with pytest.raises(Sg2evalError, match="row 1 sets sn_d = 'no', but Table 4, row 2: .*sn_d = 'yes'"):
        load_manifest(write_manifest(tmp_path / "wrong.toml", "table4", wrong))


@pytest.mark.parametrize(
    ("metric", "options", "message"),
    [
        ("fid", {"bogus": 1}, "\\[metrics.fid\\] has unknown options bogus; known: .*covariance.*detector"),
        ("fid", {"seed": 3}, "unknown options seed"),
        ("pr", {"num_fake": 3}, "unknown options num_fake; known: .*distance_dtype"),
        ("ppl", {"G": None, "num": 4}, "unknown options G; known: .*lpips_weights.*preset"),
        ("projection", {"steps": 3}, "unknown options steps; known: num, num_steps"),
    ],
)
def test_default_metrics_refuse_unknown_options(
    metric: str, options: dict, message: str, tmp_path: Path
) -> None:
    from sg2reports import default_registry

    with pytest.raises(Sg2evalError, match=message):
        default_registry()[metric].fn(tmp_path / "net.sg2", tmp_path / "data", 0, options)


# ----------------------------------------------------------------------------------------------------------
# Outputs and the command.


def test_outputs_csv_markdown_html_json(toy: dict[str, Path]) -> None:
    report = run_report(
        load_manifest(toy["manifest"]),
        seeds=2,
        store=CellStore(toy["root"] / "cells"),
        registry=Counting().registry(),
    )
    written = write_report(report, toy["root"] / "out")
    assert [p.name for p in written] == ["table1.csv", "table1.md", "table1.html", "table1.json"]
    csv = pd.read_csv(written[0])
    assert list(csv.columns[:8]) == [
        "config",
        "dataset",
        "fid",
        "fid_std",
        "fid_ci_low",
        "fid_ci_high",
        "fid_paper",
        "fid_diff_std",
    ]
    assert csv["fid"].tolist() == pytest.approx([3 + 384.5, 5 + 384.5])
    markdown = written[1].read_text()
    half = scipy_stats.t.ppf(0.975, 1) * np.std([387, 388], ddof=1) / np.sqrt(2)
    assert "| config | dataset | fid ↓ | fid ↓ (paper) | fid Δ/std | path_length ↓ |" in markdown
    assert "| precision ↑ | precision ↑ (paper) | precision Δ/std |" in markdown
    assert f"| A | ffhq | 387.5 ± {half:.2g} | 4.4 | +{(387.5 - 4.4) / np.sqrt(0.5):.2f} |" in markdown
    assert "<table" in written[2].read_text()

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON")

    payload = json.loads(written[3].read_text(), parse_constant=refuse)
    row = payload["rows"][0]
    assert payload["table"] == "table1" and payload["seeds"] == 2 and row["label"] == "A/ffhq"
    assert row["columns"]["fid"]["paper"] == 4.4 and row["columns"]["fid"]["n"] == 2
    assert payload["rows"][0]["columns"]["fid"]["ci_low"] is not None and "problems" in payload
    cell = row["cells"]["fid"][1]
    assert cell["seed"] == 1 and cell["values"] == {"fid": 388.0} and len(cell["key"]) == 64
    assert cell["provenance"]["network"].endswith("a.pkl") and cell["provenance"]["dataset"].endswith(
        "data.npy"
    )
    assert row["network"]["sha256"] and row["dataset"]["sha256"]


def test_cli_reports_missing_files_per_row(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "table3",
            "--manifest",
            str(REPO / "reports/manifests/official/table3.toml"),
            "--rows",
            "lsun-cat/*,lsun-horse/StyleGAN2",
            "--out",
            str(out),
            "--seeds",
            "2",
            "--networks-dir",
            str(tmp_path / "nets"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lsun-cat/StyleGAN: network missing (fid, ppl): " in result.output
    assert (
        "download https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/stylegan2-cat-config-a.pkl"
        in result.output
    )
    assert "| lsun-horse | StyleGAN2 | — | 3.43 | — | — | 338 |" in result.output
    csv = pd.read_csv(out / "table3.csv")
    assert (
        csv["model"].tolist() == ["StyleGAN", "StyleGAN2", "StyleGAN2"]
        and (csv["status"] == "network missing").all()
    )
    bad = CliRunner().invoke(
        cli, ["report", "table1", "--manifest", str(REPO / "reports/manifests/official/table3.toml")]
    )
    assert bad.exit_code != 0 and "is a manifest for table3, not table1" in bad.output


# ----------------------------------------------------------------------------------------------------------
# End to end with the default metric functions on tiny networks.


def tiny_network(path: Path, seed: int, resolution: int = 16) -> Path:
    import torch

    from sg2model import Generator, save_network

    torch.manual_seed(seed)
    G = Generator(
        z_dim=8,
        w_dim=8,
        img_resolution=resolution,
        img_channels=3,
        channel_base=128,
        channel_max=16,
        mapping_kwargs={"num_layers": 1},
    ).eval()
    return save_network(path, G_ema=G)


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    from tests.helpers.fake_weights import (
        isolate_weight_search,
        write_nvidia_inception_torchscript,
        write_nvidia_vgg16_torchscript,
    )

    isolate_weight_search(monkeypatch, tmp_path / "search")
    monkeypatch.setenv("SG2EVAL_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "reals.npy", rng.integers(0, 255, (12, 16, 16, 3), dtype=np.uint8))
    return {
        "root": tmp_path,
        "a": tiny_network(tmp_path / "a.sg2", 0),
        "f": tiny_network(tmp_path / "f.sg2", 1),
        "inception": write_nvidia_inception_torchscript(tmp_path / "inception.pt", seed=0),
        "vgg": write_nvidia_vgg16_torchscript(tmp_path / "vgg16.pt", seed=0),
    }


def tiny_manifest(tiny: dict[str, Path], table: str, rows: list[dict[str, Any]], metrics: str) -> Path:
    text = f'table = "{table}"\n[datasets.toy]\npath = "reals.npy"\n'
    text += f'[datasets.ffhq]\npath = "reals.npy"\n{metrics}\n'
    for row in rows:
        text += "\n[[rows]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in row.items())
    path = tiny["root"] / f"{table}.toml"
    path.write_text(text)
    return path


class PooledColours(torch.nn.Module):
    """A cheap TorchScript detector: mean colour of each 4x4 cell of the image (48 features at 16x16)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)


@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning", "ignore::FutureWarning")
def test_table2_report_with_default_metrics_on_a_tiny_network(tiny: dict[str, Path]) -> None:
    from tests.helpers.fake_weights import write_torchscript

    write_torchscript(PooledColours(), tiny["root"] / "pooled.pt")
    metrics = (
        '[metrics.fid]\nnum = 4\ndetector = "torchscript:pooled.pt"\n'
        '[metrics.ppl]\nnum = 4\nlpips = "vgg16-nv"\nlpips_weights = "vgg16.pt"\nepsilon = 0.01\n'
    )
    rows = [{"dataset": "ffhq", "generator": "output_skips", "discriminator": "residual", "network": "f.sg2"}]
    manifest = load_manifest(tiny_manifest(tiny, "table2", rows, metrics))
    report = run_report(
        manifest, seeds=2, store=CellStore(tiny["root"] / "cells"), overrides={"device": "cpu"}
    )
    assert report.problems == () and report.computed == 4
    line = report.table().iloc[0]
    assert line["fid"] > 0 and line["ppl"] > 0 and line["seeds"] == 2
    assert line["fid_paper"] == 3.31 and line["ppl_paper"] == 125
    fid_cells = report.rows[0].cells["fid"]
    assert fid_cells[0].key.options["detector"]["sha256"] == file_sha256(tiny["root"] / "pooled.pt")
    assert fid_cells[0].values["fid"] != fid_cells[1].values["fid"]  # seed 1 generates other images
    sources = [c.provenance["sources"]["fake"]["seeds"] for c in fid_cells]
    assert sources == [[0, 3], [4, 7]]
    assert fid_cells[0].provenance["detector"]["weights"]["file"].endswith("pooled.pt")
    assert report.rows[0].cells["ppl"][1].provenance["lpips"]["lpips"] == "vgg16-nv"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning", "ignore::FutureWarning")
def test_end_to_end_table1_and_fig10_reports_through_the_cli(tiny: dict[str, Path]) -> None:
    root = tiny["root"]
    metrics = (
        '[metrics.fid]\nnum = 6\nweights = "inception.pt"\n'
        '[metrics.pr]\nnum = 6\nweights = "vgg16.pt"\n'
        '[metrics.ppl]\nnum = 6\nlpips_weights = "vgg16.pt"\nepsilon = 0.01\n'
    )
    rows = [{"config": c, "dataset": "toy", "network": f"{c.lower()}.sg2"} for c in ("A", "F")]
    manifest = tiny_manifest(tiny, "table1", rows, metrics)
    args = [
        "report",
        "table1",
        "--manifest",
        str(manifest),
        "--seeds",
        "3",
        "--out",
        str(root / "t1"),
        "--device",
        "cpu",
        "--no-progress",
    ]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "cells computed: 18, reused from the store: 0" in first.output
    second = CliRunner().invoke(cli, args)
    assert "cells computed: 0, reused from the store: 18" in second.output
    csv = pd.read_csv(root / "t1" / "table1.csv")
    assert csv["status"].tolist() == ["ok", "ok"] and csv["seeds"].tolist() == [3, 3]
    assert ((csv["precision"] >= 0) & (csv["precision"] <= 1)).all() and (csv["fid_std"] > 0).all()
    assert csv["path_length_paper"].isna().all()  # dataset 'toy' is not in the paper

    fig_rows = [
        {"dataset": "toy", "model": m, "network": f"{c}.sg2"}
        for m, c in (("StyleGAN", "a"), ("StyleGAN2", "f"))
    ]
    fig = tiny_manifest(
        tiny, "fig10", fig_rows, '[metrics.projection]\nnum = 2\nnum_steps = 3\nlpips_weights = "vgg16.pt"\n'
    )
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "fig10",
            "--manifest",
            str(fig),
            "--seeds",
            "2",
            "--out",
            str(root / "f10"),
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (root / "f10" / "fig10.png").read_bytes()[:4] == b"\x89PNG"
    payload = json.loads((root / "f10" / "fig10.json").read_text())
    cells = payload["rows"][1]["cells"]["projection"]
    assert [c["provenance"]["real_images"] for c in cells] == [[0, 1], [2, 3]]
    assert payload["rows"][1]["columns"]["generated_median"]["n"] == 2


# ----------------------------------------------------------------------------------------------------------
# The built-in versions (sg2eval/builtin/assets, in-domain detectors).

BUILTIN = REPO / "sg2eval" / "builtin" / "manifests"


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "fig10"])
def test_builtin_manifests_point_at_the_shipped_networks(table: str) -> None:
    from sg2eval.builtin.paths import ASSETS, EARLY_NETWORK, FINAL_NETWORK

    manifest = load_manifest(BUILTIN / f"{table}.toml", table)
    assert {row.network for row in manifest.rows} <= {ASSETS / FINAL_NETWORK, ASSETS / EARLY_NETWORK}
    assert all(row.dataset.path == BUILTIN / "shapes32.zip" for row in manifest.rows)
    paper = load_paper_table(manifest.table, PAPER)
    for row in manifest.rows:  # in-domain numbers must never sit beside the paper's
        assert all(map(math.isnan, published_values(manifest.table, paper, row.keys).values()))
    for metric in manifest.table.metrics:
        options = manifest.options_for(metric)
        assert options.get("detector", options.get("lpips")) in ("shapes-features", "shapes-lpips")


@pytest.mark.slow
@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "fig10"])
def test_builtin_reports_end_to_end(table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Needs the shipped built-in networks and in-domain detector weights (sg2eval/builtin/assets)."""
    monkeypatch.setenv("SG2EVAL_CACHE", str(tmp_path / "cache"))
    made = CliRunner().invoke(
        cli, ["datasets", "make-shapes", "--num", "2000", "--out", str(tmp_path / "shapes32.zip")]
    )
    assert made.exit_code == 0, made.output
    args = [
        "report",
        table,
        "--manifest",
        str(BUILTIN / f"{table}.toml"),
        "--seeds",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--datasets-dir",
        str(tmp_path),
        "--device",
        "cpu",
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    csv = pd.read_csv(tmp_path / "out" / f"{table}.csv")
    assert (csv["status"] == "ok").all(), csv["status"].tolist()
    assert (csv["seeds"] == 2).all() and np.isfinite(csv[get_table(table).columns[0].name]).all()
