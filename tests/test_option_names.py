"""Errors name settings the user has: each command's own option under the CLI, a parameter of the function
under the Python API, the manifest's option under ``report`` (sg2eval/naming.py)."""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import sg2eval
from sg2eval.builtin import paths
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2eval.naming import mention, naming, setting
from tests.helpers.fake_weights import isolate_weight_search

NETWORK = str(paths.ASSETS / paths.FINAL_NETWORK)


@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No weight file anywhere (downloads off) and four 32x32 RGB images."""
    isolate_weight_search(monkeypatch, tmp_path / "weights")
    path = tmp_path / "images.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    return path


def _missing_weights(args: list[str]) -> tuple[str, str]:
    """Run a command that needs a missing weight file: (its one-line error, the option it names)."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: weights not found") and "sg2eval weights fetch" in error, error
    named = re.search(r"pass the file with (--[a-z-]+) FILE", error)
    assert named is not None, error
    return error, named.group(1)


def _help_options(command: str) -> set[str]:
    help_text = CliRunner().invoke(cli, [command, "--help"]).output
    return set(re.findall(r"--[a-z][a-z-]*", help_text))


@pytest.mark.parametrize(
    ("command", "extra", "expected"),
    [
        ("fid", [], "--weights"),
        ("kid", [], "--weights"),
        ("pr", [], "--weights"),
        ("features", ["--out", "f.npz"], "--weights"),
        ("ppl", ["--lpips", "vgg16-nv", "--num", "2"], "--lpips-weights"),
        ("project", ["--lpips", "vgg16-nv", "IMAGES"], "--lpips-weights"),
        ("attribute", ["--lpips", "vgg16-nv", "--threshold", "0.1", "IMAGES"], "--lpips-weights"),
        ("attribute-calibrate", ["--lpips", "vgg16-nv", "--real", "IMAGES", "--num", "1"], "--lpips-weights"),
    ],
)
def test_each_command_names_its_own_weights_option(
    images: Path, command: str, extra: list[str], expected: str
) -> None:
    extra = [str(images) if a == "IMAGES" else a for a in extra]
    if command in ("fid", "kid", "pr"):
        inputs = ["--real", str(images), "--fake", str(images)]
    elif command == "features":
        inputs = [str(images)]
    else:
        inputs = ["--network", NETWORK, "--device", "cpu"]
    error, named = _missing_weights([command, *inputs, *extra])
    assert named == expected and named in _help_options(command), error


def test_report_names_the_manifest_option(images: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "table1.toml"
    shutil.copy(paths.ASSETS.parent / "manifests" / "table1.toml", manifest)
    text = manifest.read_text().replace('networks = "../assets"', f'networks = "{paths.ASSETS}"')
    manifest.write_text(text.replace('lpips = "shapes-lpips"', 'lpips = "vgg16-nv"'))
    args = ["report", "table1", "--manifest", str(manifest), "--rows", "E-small/*", "--seeds", "1"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "pass the file with lpips_weights = 'FILE' in [metrics.ppl] of table1.toml" in result.output


def test_api_errors_name_a_parameter_of_the_function(images: Path) -> None:
    with pytest.raises(Sg2evalError, match=r"pass the file with weights='FILE'"):
        sg2eval.fid(images, images, device="cpu")
    assert "weights" in sg2eval.api.RunKwargs.__annotations__  # fid's **options
    with pytest.raises(Sg2evalError, match=r"pass the file with lpips_weights='FILE'"):
        sg2eval.ppl(NETWORK, num=2, lpips="vgg16-nv", device="cpu")
    assert "lpips_weights" in inspect.signature(sg2eval.ppl).parameters
    with pytest.raises(Sg2evalError, match=r"use num=4 or num='all'"):
        sg2eval.fid(images, images, num_fake=9, device="cpu", detector="shapes-features")


def test_a_command_without_the_option_leaves_the_advice_out(images: Path) -> None:
    with naming(lambda parameter, value: None):
        assert setting("weights", "FILE") is None and mention("num", "4") == "num 4"
        with pytest.raises(Sg2evalError) as info:
            sg2eval.fid(images, images, device="cpu")
    assert "pass the file" not in str(info.value) and "sg2eval weights fetch" in str(info.value)
