"""Progress of long work (sg2eval/progress.py, sg2model/core/progress_lines.py): plain periodic lines when
not on a terminal (commands run by CliRunner are not), rich bars on one, inner jobs inside outer ones."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from sg2datasets.labelled import write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes
from sg2eval.cli.main import cli
from sg2eval.progress import job_progress, progress_bar
from sg2model.core.progress_lines import duration, interval_seconds, progress_line
from sg2reports import MetricEntry
from sg2reports.cells import CellStore
from sg2reports.manifest import load_manifest
from sg2reports.runner import run_report

LINE = re.compile(
    r"^(?P<label>[\w -]+): (?P<done>[\d.]+) / (?P<total>[\d.]+) (?P<unit>\w+), \d+ (s|min), (ETA|done)"
)


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG2EVAL_PROGRESS_INTERVAL", "0")


def plain_lines(text: str, label: str) -> list[tuple[float, float, str]]:
    """(done, total, unit) of each progress line of ``label`` in ``text``."""
    found = [LINE.match(line) for line in text.splitlines()]
    return [(float(m["done"]), float(m["total"]), m["unit"]) for m in found if m and m["label"] == label]


def test_line_format_and_estimate() -> None:
    assert progress_line("train", 12.3, 100, 40, "kimg") == "train: 12.3 / 100 kimg, 40 s, ETA 5 min"
    assert progress_line("PPL", 0, 50, 3, "pairs") == "PPL: 0 / 50 pairs, 3 s, ETA ?"
    done = progress_line("fid real", 50, 50, 90, "images", "cached")
    assert done == "fid real: 50 / 50 images, 2 min, done, cached"
    # resumed at 50 kimg: 10 kimg in 60 s leaves 40 kimg for 240 s
    assert progress_line("train", 60, 100, 60, "kimg", start=50).endswith("ETA 4 min")
    assert [duration(s) for s in (7, 59.4, 3599, 7500)] == ["7 s", "59 s", "60 min", "2 h 05 min"]


def test_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_PROGRESS_INTERVAL", raising=False)
    assert interval_seconds() == 30
    monkeypatch.setenv("SG2EVAL_PROGRESS_INTERVAL", "2.5")
    assert interval_seconds() == 2.5


def test_quiet_below_the_interval_and_a_last_line_after_any(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SG2EVAL_PROGRESS_INTERVAL", "3600")
    with job_progress(10, "short", unit="items") as advance:
        advance(10)
    assert capsys.readouterr().err == ""  # a job shorter than the interval writes nothing
    monkeypatch.setenv("SG2EVAL_PROGRESS_INTERVAL", "0")
    with job_progress(4, "steps", unit="items") as advance:
        for _ in range(4):
            advance(1)
    assert plain_lines(capsys.readouterr().err, "steps") == [(k, 4, "items") for k in (1, 2, 3, 4)]


def test_cli_metric_writes_plain_lines_on_stderr_and_only_results_on_stdout(
    every_step: None, tmp_path: Path
) -> None:
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", images)
    np.save(tmp_path / "b.npy", images[::-1])
    args = ["fid", "--real", str(tmp_path / "a.npy"), "--fake", str(tmp_path / "b.npy")]
    args += ["--detector", "shapes-features", "--batch-size", "4", "--no-cache", "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert plain_lines(result.stderr, "real") == [(k, 12, "images") for k in (4, 8, 12)]
    assert plain_lines(result.stderr, "fake") == [(k, 12, "images") for k in (4, 8, 12)]
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["fid"]  # the result only
    quiet = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert quiet.exit_code == 0 and plain_lines(quiet.stderr, "real") == []


def test_cli_train_writes_a_line_per_tick_when_not_on_a_terminal(tmp_path: Path) -> None:
    images, attributes = make_shapes(16, resolution=16, seed=0)
    write_labelled_zip(tmp_path / "data.zip", images, attributes, ATTRIBUTES)
    args = ["train", "--data", str(tmp_path / "data.zip"), "--out", str(tmp_path / "run"), "--config", "E"]
    args += ["--kimg", "0.016", "--tick", "0.008", "--batch", "8", "--channel-base", "128"]
    args += ["--channel-max", "16", "--map-layers", "2", "--w-dim", "16", "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ticks = [line for line in result.stdout.splitlines() if line.startswith("train: ")]
    shown = [plain_lines(line, "train")[0] for line in ticks]
    assert shown == [(0.008, 0.016, "kimg"), (0.016, 0.016, "kimg")]
    assert "ETA" in ticks[0] and "G_loss" in ticks[0] and ticks[1].split(", ")[2] == "done"
    assert result.stdout.splitlines()[-1].startswith("training finished")


def test_report_cells_show_their_inner_jobs(every_step: None, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "data.npy", np.zeros((2, 8, 8, 3), np.uint8))
    (tmp_path / "a.pkl").write_bytes(b"\0")
    (tmp_path / "t.toml").write_text(
        'table = "table1"\n[datasets.ffhq]\npath = "data.npy"\n'
        '[[rows]]\nconfig = "A"\ndataset = "ffhq"\nnetwork = "a.pkl"\n'
    )

    def slow_ppl(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> dict:
        with job_progress(3, "PPL", False, "pairs") as advance:  # its own switch is off, as in the API
            for _ in range(3):
                advance(1)
        return {"ppl": 1.0}

    def number(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> dict:
        return {"fid": 1.0, "precision": 0.5, "recall": 0.5}

    registry = {"fid": MetricEntry(number), "ppl": MetricEntry(slow_ppl, False), "pr": MetricEntry(number)}
    manifest = load_manifest(tmp_path / "t.toml", "table1")
    run_report(manifest, seeds=2, store=CellStore(tmp_path / "c"), registry=registry, progress=True)
    err = capsys.readouterr().err
    assert plain_lines(err, "PPL") == [(k, 3, "pairs") for _ in range(2) for k in (1, 2, 3)]
    assert plain_lines(err, "table1")[-1] == (6, 6, "cells")
    run_report(manifest, seeds=2, store=CellStore(tmp_path / "d"), registry=registry, progress=False)
    assert capsys.readouterr().err == ""  # off: the inner jobs stay quiet too


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_inner_jobs_join_the_outer_rich_display(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_bar(2, "outer", unit="cells") as outer:
        for _ in range(2):
            with job_progress(5, "inner-job", unit="pairs") as advance:  # a second live display would fail
                advance(5)
            outer.advance(1, "cell")
    shown = screen.getvalue()
    assert "outer" in shown and "inner-job" in shown and "2/2" in shown
    assert plain_lines(shown, "outer") == []  # bars, not lines
