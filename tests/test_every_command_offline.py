"""Every command runs offline on the built-in default: the shipped networks (sg2eval/builtin/assets), the
in-domain detector and distance (shapes-features, shapes-lpips), the shipped classifiers and the procedural
shapes data, with no official weight file anywhere and downloads off. Tiny settings keep each case to
seconds; the full-size demo is the one slow case (its fast representative runs on the tiny fake assets)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sg2datasets.shapes import make_shapes
from sg2eval.builtin import demo, paths
from sg2eval.cli.main import COMMANDS, cli
from tests.helpers.fake_weights import isolate_weight_search
from tests.test_builtin import make_fake_assets
from tests.test_demo import TINY

NET = str(paths.ASSETS / paths.FINAL_NETWORK)
CLASSIFIERS = str(paths.ASSETS / paths.CLASSIFIERS_DIR)
CPU = ["--device", "cpu"]
PAIR = ["--real", "{data}", "--fake", NET, "--num", "16", "--detector", "shapes-features", "--no-cache", *CPU]
PROJECT = ["--network", NET, "--lpips", "shapes-lpips", "--steps", "2", "--batch-size", "2", *CPU]
TRAIN = ["--data", "{data}", "--out", "{tmp}/run", "--config", "E", "--kimg", "0.008", "--batch", "8"]
TRAIN += ["--channel-base", "128", "--channel-max", "16", "--map-layers", "2", "--w-dim", "16", *CPU]

#: (command line with {data}, {tmp}, {image}, {manifest} placeholders), one or more per command.
CASES: dict[str, list[str]] = {
    "datasets": ["datasets", "make-shapes", "--num", "8", "--res", "32", "--out", "{tmp}/more.zip"],
    "fid": ["fid", *PAIR],
    "kid": ["kid", *PAIR, "--subsets", "2", "--subset-size", "8"],
    "pr": ["pr", *PAIR],
    "features": ["features", "{data}", "--out", "{tmp}/f.npz", "--detector", "shapes-features", *CPU],
    "ppl": ["ppl", "--network", NET, "--lpips", "shapes-lpips", "--num", "4", *CPU],
    "separability": ["separability", "--network", NET, "--classifiers", CLASSIFIERS, "--num", "64"]
    + ["--num-keep", "32", "--workers", "1", *CPU],
    "project": ["project", "{image}", *PROJECT, "--out", "{tmp}/projections"],
    "attribute-calibrate": [
        "attribute-calibrate",
        *PROJECT,
        "--real",
        "{data}",
        "--num",
        "2",
        "--store",
        "cache",
    ],
    "attribute": ["attribute", "{image}", *PROJECT, "--threshold", "0.5"],
    "info": ["info", NET],
    "convert": ["convert", NET, "--out", "{tmp}/copy.sg2"],
    "train": ["train", *TRAIN],
    "classifiers": ["classifiers", "train", "--data", "{data}", "--out", "{tmp}/cls", "--images", "8"]
    + ["--batch", "4", "--channel-base", "64", "--channel-max", "8", "--multi-head", "--held-out", "0.25"],
    "report": ["report", "table1", "--manifest", "{manifest}", "--rows", "E-small/*", "--seeds", "1"]
    + ["--datasets-dir", "{tmp}", "--out", "{tmp}/report", *CPU],
    "weights": ["weights", "list"],
    "ops": ["ops", "status"],
    "demo": ["demo", "--quick", "--out", "{tmp}/demo"],  # on the tiny fake assets: see the fixture
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The shapes data (32x32, labelled) as the manifest names it, one target image and a copy of the
    built-in Table 1 manifest with every count cut to 16."""
    tmp = tmp_path_factory.mktemp("offline")
    result = CliRunner().invoke(
        cli, ["datasets", "make-shapes", "--num", "16", "--out", str(tmp / "shapes32.zip")]
    )
    assert result.exit_code == 0, result.output
    images, _ = make_shapes(1, 32, 5)  # [1, 3, 32, 32]
    Image.fromarray(np.ascontiguousarray(images[0].transpose(1, 2, 0))).save(tmp / "target.png")
    manifest = (paths.ASSETS.parent / "manifests" / "table1.toml").read_text()
    manifest = manifest.replace('networks = "../assets"', f'networks = "{paths.ASSETS}"')
    (tmp / "table1.toml").write_text(
        manifest.replace("num = 2000", "num = 16").replace("num = 1000", "num = 16")
    )
    return {
        "tmp": str(tmp),
        "data": str(tmp / "shapes32.zip"),
        "image": str(tmp / "target.png"),
        "manifest": str(tmp / "table1.toml"),
    }


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "weights")  # no official weights, downloads off


def _invoke(template: list[str], places: dict[str, str]) -> str:
    args = [part.format(**places) for part in template]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, f"sg2eval {' '.join(args)}:\n{result.output}"
    return result.output


#: Commands defined on the official Inception network only (no in-domain stand-in): offline they say in one
#: line how to get its weights.
NEED_OFFICIAL_WEIGHTS: dict[str, list[str]] = {
    "is": ["is", NET, "--num", "16", "--no-cache", *CPU],
}


def test_the_table_covers_every_command() -> None:
    assert set(CASES) | set(NEED_OFFICIAL_WEIGHTS) == set(COMMANDS)
    assert not set(CASES) & set(NEED_OFFICIAL_WEIGHTS)


@pytest.mark.parametrize("command", list(NEED_OFFICIAL_WEIGHTS))
def test_inception_only_commands_say_how_to_get_the_weights(
    offline: None, workspace: dict[str, str], command: str
) -> None:
    result = CliRunner().invoke(cli, [part.format(**workspace) for part in NEED_OFFICIAL_WEIGHTS[command]])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "sg2eval weights fetch" in result.output


@pytest.mark.parametrize("command", [c for c in CASES if c != "demo"])
def test_command_runs_offline_on_the_builtin_default(
    offline: None, workspace: dict[str, str], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SG2EVAL_PROGRESS_INTERVAL", "0")  # plain progress lines at every step
    output = _invoke(CASES[command], workspace)
    if command == "report":  # every cell of the row computed, none failed; the PPL cell's pairs shown inside
        assert "cells computed: 3, reused from the store: 0" in output and "failed" not in output
        assert "PPL: 4 / 16 pairs, " in output and "table1: 3 / 3 cells, " in output


def test_demo_runs_offline_on_tiny_assets(
    offline: None, workspace: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo --quick`` with the tiny fake assets of tests/test_builtin.py and the tiny settings of
    tests/test_demo.py in place of the quick ones."""
    monkeypatch.setenv("SG2EVAL_BUILTIN_ASSETS", str(make_fake_assets(tmp_path / "assets")))
    monkeypatch.setattr(demo, "QUICK", TINY)
    _invoke(CASES["demo"], {**workspace, "tmp": str(tmp_path)})
    assert (tmp_path / "demo" / "results.csv").is_file()


@pytest.mark.slow
def test_demo_runs_offline_on_the_shipped_assets(
    offline: None, workspace: dict[str, str], tmp_path: Path
) -> None:
    _invoke(CASES["demo"], {**workspace, "tmp": str(tmp_path)})
    shutil.rmtree(tmp_path / "demo")
