"""``sg2eval info``, ``convert`` and ``fid --fake`` on one network file, as a new user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
from click.testing import CliRunner

from sg2eval.cli.main import cli
from sg2model import load_network
from tests.helpers.fake_weights import write_nvidia_inception_torchscript


def _invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def _render(G: Any) -> torch.Tensor:
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(2))
    c = torch.eye(G.c_dim)[[0, 1, 0]] if G.c_dim else None
    with torch.no_grad():
        return G(z, c, noise_mode="const")


def check_info_convert_fid(path: Path, tmp_path: Path) -> dict[str, Any]:
    """Run the three commands on ``path``; the converted ``.sg2`` must render what the pickle renders and
    ``fid --fake`` (Inception layout, random weights) must give a number. Returns ``info --json``."""
    code, output = _invoke("info", path, "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert all(row["parameters"] > 0 for row in summary["networks"])
    out = tmp_path / "converted.sg2"
    code, output = _invoke("convert", path, "--out", out)
    assert code == 0, output
    code, output = _invoke("info", out, "--verify", "--json")
    assert code == 0 and json.loads(output)["verify"]["status"] == "exact", output
    torch.testing.assert_close(_render(load_network(out).generator), _render(load_network(path).generator))
    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        PIL.Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(real / f"{i}.png")
    weights = write_nvidia_inception_torchscript(tmp_path / "inception-2015-12-05.pt", seed=0)
    report = tmp_path / "fid.json"
    code, output = _invoke("fid", "--real", real, "--fake", path, "--num-fake", 6, "--weights", weights,
                           "--device", "cpu", "--no-cache", "--json", report)  # fmt: skip
    assert code == 0, output
    assert np.isfinite(json.loads(report.read_text())["fid"])
    return summary
