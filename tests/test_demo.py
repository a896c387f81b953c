"""``sg2eval demo``: the pipeline on tiny stand-in assets (fast) and the real quick mode on the shipped
networks, whose numbers must be sane (docs/demo.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sg2eval.builtin.demo import DemoSettings, run_demo, to_markdown
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from tests.test_builtin import fake_assets, use_fake_assets  # noqa: F401 (fixtures)

TINY = DemoSettings("test", num_real=48, num_fake=48, kid_subset=24, ppl_samples=6, separability_num=40,
                    num_project=2, project_steps=3, w_avg_samples=50, report_seeds=2, report_num=32,
                    batch_size=24)
FILES = {"results.csv", "results.md", "report.json", "entropies.csv", "samples.png", "attribution_hist.png",
         "ppl_hist_early.png", "ppl_hist_final.png", "projections_early.png", "projections_final.png",
         "reports"}
REPORT_FILES = {f"{table}.{suffix}" for table in ("table1", "table2", "table3", "table4", "fig10")
                for suffix in ("csv", "md", "html", "json")} | {"fig10.png", "cells"}


def column(table: pd.DataFrame, start: str) -> str:
    """The one column of the demo's table whose label starts with ``start`` (labels add detector, counts)."""
    found = [c for c in table.columns if str(c).startswith(start)]
    assert len(found) == 1, (start, list(table.columns))
    return found[0]


def test_pipeline_writes_the_report_atomically(use_fake_assets: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "demo"
    report = run_demo(out, settings=TINY, progress=False)
    assert report.folder == out.resolve()
    assert {p.name for p in out.iterdir()} == FILES
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    table = pd.read_csv(out / "results.csv")
    assert list(table["network"]) == ["early", "final"] and list(table["kimg"]) == [1.0, 2.0]
    assert column(table, "in-domain FD") == "in-domain FD (shapes-features, 48 real vs 48 generated)"
    assert column(table, "in-domain KID").endswith("unscaled)")
    assert column(table, "median in-domain distance (shapes-lpips) to the projection, 2 real")
    assert not any("FID" in c or "LPIPS" in c for c in table.columns)
    markdown = (out / "results.md").read_text()
    assert markdown.startswith(to_markdown(report.table)) and "KID is shown unscaled" in markdown
    _check_pictures(out)
    info = json.loads((out / "report.json").read_text())
    assert info["detectors"] == "in-domain" and info["settings"]["mode"] == "test"
    fd = info["networks"]["final"]["results"]["fd"]
    assert fd["provenance"]["detector"]["detector"] == "shapes-features"
    assert info["assets"]["files"]["shapes32-final.sg2"]["sha256"] == fd["provenance"]["sources"]["fake"][
        "source"]["network_sha256"]
    _check_builtin_reports(out, info, seeds=2)
    # A second run replaces the earlier report; a folder that is not a report is refused.
    first = (out / "report.json").stat().st_mtime_ns
    run_demo(out, settings=TINY, progress=False)
    assert (out / "report.json").stat().st_mtime_ns != first
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(Sg2evalError, match="not a demo report"):
        run_demo(other, settings=TINY, progress=False)
    assert (other / "keep.txt").read_text() == "mine"


def _check_pictures(out: Path) -> None:
    """The demo's pictures: 32 px images enlarged to 128 px, every panel labelled (texts in PNG chunks)."""
    from PIL import Image

    samples = Image.open(out / "samples.png")
    assert samples.width >= 16 * 128 and samples.height >= 3 * 128  # was 546 x 104 (32 px images)
    assert json.loads(samples.text["sg2:row_labels"])[1].startswith("early network")
    assert json.loads(samples.text["sg2:captions"])[16:18] == ["seed 0", "seed 1"]
    projections = Image.open(out / "projections_final.png")
    assert projections.width >= 4 * 128 and projections.height >= 2 * 128  # was 138 x 70
    captions = json.loads(projections.text["sg2:captions"])
    assert captions[0] == "generated, seed 0" and captions[-1].startswith("distance ")
    assert "shapes-lpips" in projections.text["Title"]
    legend = Image.open(out / "ppl_hist_final.png").text["Description"]
    assert legend.startswith("pairs (6") and "median" in legend


def _check_builtin_reports(out: Path, info: dict, seeds: int) -> None:
    """The demo's reports/ folder: Tables 1-4 over ``seeds`` seeds and Figure 10, Tables 2-4 made entirely of
    Table 1's stored cells."""
    assert {p.name for p in (out / "reports").iterdir()} == REPORT_FILES
    table1 = pd.read_csv(out / "reports" / "table1.csv").set_index("config")
    assert list(table1.index) == ["E-small", "E-small-early"] and (table1["status"] == "ok").all()
    assert (table1["seeds"] == seeds).all()
    assert np.isfinite(table1[["fid", "fid_std", "path_length", "precision", "recall"]].to_numpy()).all()
    assert (table1["fid_ci_low"] <= table1["fid"]).all() and (table1["fid"] <= table1["fid_ci_high"]).all()
    done = info["reports"]
    assert done["table1"]["cells_computed"] == 2 * 3 * seeds and done["table1"]["cells_reused"] == 0
    for table in ("table2", "table3", "table4"):
        assert done[table]["cells_computed"] == 0 and done[table]["cells_reused"] > 0, table
    assert done["fig10"]["seeds"] == 1 and done["fig10"]["cells_computed"] == 2
    for table in ("table1", "fig10"):
        for suffix in ("md", "html"):
            assert "not FID or LPIPS" in (out / "reports" / f"{table}.{suffix}").read_text(), (table, suffix)
    fig10 = pd.read_csv(out / "reports" / "fig10.csv")
    assert np.isfinite(fig10[["generated_median", "real_median"]].to_numpy()).all()


def test_official_mode_without_weights_says_what_is_missing(
    use_fake_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    import sg2eval.weights as weights

    monkeypatch.setattr(weights, "locate", lambda kind: None)
    with pytest.raises(Sg2evalError, match="--official needs the official weights, missing: inception"):
        run_demo(tmp_path / "demo", official=True, settings=TINY, progress=False)


# The quick demo on the shipped networks (about a minute on two idle cores, several on a busy machine).


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sg2eval demo --quick`` on the shipped assets, once for the module."""
    out = tmp_path_factory.mktemp("quick") / "sg2eval-demo"
    result = CliRunner().invoke(cli, ["demo", "--quick", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "in-domain FD (shapes-features, 500 real vs 500 generated)" in result.output
    assert str(out.resolve()) in result.output
    assert "built-in Table 1" not in result.output and "add --reports" in result.output  # quick: no reports
    assert not (out / "reports").exists()
    return out


@pytest.mark.slow
def test_quick_demo_trained_network_beats_early_snapshot(quick_demo: Path) -> None:
    table = pd.read_csv(quick_demo / "results.csv").set_index("network")
    early, final = table.loc["early"], table.loc["final"]
    assert final["kimg"] > early["kimg"]
    fd, precision = column(table, "in-domain FD"), column(table, "in-domain precision")
    assert final[fd] < early[fd]
    assert final[precision] > early[precision]


@pytest.mark.slow
def test_quick_demo_trained_network_has_higher_recall(quick_demo: Path) -> None:
    table = pd.read_csv(quick_demo / "results.csv").set_index("network")
    recall = column(table, "in-domain recall")
    assert table.loc["final", recall] > table.loc["early", recall]


@pytest.mark.slow
def test_quick_demo_projection_and_attribution(quick_demo: Path) -> None:
    table = pd.read_csv(quick_demo / "results.csv").set_index("network")
    info = json.loads((quick_demo / "report.json").read_text())
    for network in ("early", "final"):
        row = table.loc[network]
        assert 0 <= row["attribution FPR"] <= 1 and 0 <= row["attribution FNR"] <= 1
        # Eight projections a side at 100 steps need not separate (docs/projector.md); the demo says how
        # firmly they do, and a firm answer agrees with the medians.
        share = row["generated closer (share of resamples)"]
        assert 0 <= share <= 1
        projected = "median in-domain distance (shapes-lpips) to the projection, 8"
        generated = row[column(table, f"{projected} generated")]
        real = row[column(table, f"{projected} real")]
        if share >= 0.95 or share <= 0.05:
            assert (generated < real) == (share >= 0.95), (network, share)
        stability = info["networks"][network]["attribution"]["stability"]
        assert stability["closer_share"] == pytest.approx(share) and stability["statement"]


@pytest.mark.slow
def test_quick_demo_separability_and_entropies_in_bits(quick_demo: Path) -> None:
    table = pd.read_csv(quick_demo / "results.csv").set_index("network")
    entropies = pd.read_csv(quick_demo / "entropies.csv")
    bits = entropies["entropy_bits"].to_numpy()
    assert len(bits) == 2 * 11
    assert np.all(bits >= -1e-12) and np.all(bits <= 1 + 1e-12)  # binary attributes: H(Y|X) in [0, 1] bit
    for network in ("early", "final"):
        score = table.loc[network, column(table, "separability in W (2^sum H")]
        assert math.isfinite(score) and 1 <= score <= 2**11
        assert score == pytest.approx(2 ** entropies[entropies["network"] == network]["entropy_bits"].sum())


@pytest.mark.slow
def test_quick_demo_provenance(quick_demo: Path) -> None:
    from sg2eval.builtin import paths

    info = json.loads((quick_demo / "report.json").read_text())
    assert info["settings"]["mode"] == "quick"
    assert info["assets"]["files"] == paths.manifest()
    assert info["reports"] == {}  # --quick leaves the built-in reports out (the tiny pipeline test has them)
    ppl = info["networks"]["final"]["results"]["ppl"]
    assert ppl["params"]["space"] == "w" and ppl["params"]["sampling"] == "end"
    assert ppl["provenance"]["lpips"]["lpips"] == "shapes-lpips"
    assert "in-domain" in ppl["provenance"]["lpips"]["label"]
