"""Bad input never gives a traceback or a wrong number (issue 18): one line, exit 2, nothing written."""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from sg2eval.cli.main import cli
from sg2model import save_network
from tests.helpers.tiny_networks import tiny_sg2_generator

D = ["--detector", "shapes-features", "--device", "cpu", "--no-cache"]


def _png16(path: Path, rng: np.random.Generator) -> None:
    raw = b"".join(
        b"\0" + rng.integers(0, 65535, 96, dtype=np.uint16).astype(">u2").tobytes() for _ in range(32)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 32, 32, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    for name in ("real", "trunc", "deep"):
        (root / name).mkdir()
    for i in range(6):
        PIL.Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / f"real/{i}.png")
    data = (root / "real/1.png").read_bytes()
    for i in range(3):
        (root / f"trunc/{i}.png").write_bytes(data if i != 1 else data[: len(data) // 2])
        _png16(root / f"deep/{i}.png", rng)
    with zipfile.ZipFile(root / "bad.zip", "w", zipfile.ZIP_STORED) as archive:
        for i in range(3):
            archive.write(root / f"real/{i}.png", f"{i}.png")
    damaged = bytearray((root / "bad.zip").read_bytes())
    damaged[damaged.find(b"IDAT") + 10] ^= 0xFF
    (root / "bad.zip").write_bytes(bytes(damaged))
    np.save(root / "real.npy", rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8))
    data = (root / "real.npy").read_bytes()
    (root / "trunc.npy").write_bytes(data[: len(data) // 2])
    (root / "empty.npy").write_bytes(b"")
    (root / "empty.npz").write_bytes(b"")
    np.savez(root / "obj.npz", images=np.array([None] * 4, dtype=object))
    save_network(root / "net.sg2", G_ema=tiny_sg2_generator())
    broken = tiny_sg2_generator()
    with torch.no_grad():
        for p in broken.parameters():
            p.fill_(float("nan"))
    save_network(root / "nan.sg2", G_ema=broken)
    (root / "afile").write_text("x")
    (root / "adir").mkdir()
    return root


PAIR = ["fid", "--real", "real", "--fake"]
CASES = {
    "truncated png": [*PAIR, "trunc", *D],
    "16-bit png": [*PAIR, "deep", *D],
    "zip bad crc": [*PAIR, "bad.zip", *D],
    "truncated npy": [*PAIR, "trunc.npy", *D],
    "empty npy": [*PAIR, "empty.npy", *D],
    "empty npz": [*PAIR, "empty.npz", *D],
    "object npz": [*PAIR, "obj.npz", *D],
    "seed -1": [*PAIR, "net.sg2", "--num-fake", "4", "--seed", "-1", *D],
    "nan network fid": [*PAIR, "nan.sg2", "--num-fake", "4", *D],
    "nan network kid": ["kid", "--real", "real", "--fake", "nan.sg2", "--num-fake", "4", *D],
    "unknown device": [*PAIR, "real", "--detector", "shapes-features", "--device", "foo"],
    "missing weights": [*PAIR, "real", *D, "--weights", "missing.safetensors"],
    "cache-dir is a file": [
        *PAIR,
        "real",
        "--detector",
        "shapes-features",
        "--device",
        "cpu",
        "--cache-dir",
        "afile",
    ],
    "json into a folder": [*PAIR, "real", *D, "--json", "adir"],
    "json below a file": [*PAIR, "real", *D, "--json", "afile/out.json"],
    "json in /proc": [*PAIR, "real", *D, "--json", "/proc/sg2eval-none/out.json"],
    "pr k -1": ["pr", "--real", "real", "--fake", "real", *D, "--k", "-1"],
    "pr k 0": ["pr", "--real", "real", "--fake", "real", *D, "--k", "0"],
    "pr row-batch 0": ["pr", "--real", "real", "--fake", "real", *D, "--row-batch", "0"],
    "batch-size 0": [*PAIR, "real", *D, "--batch-size", "0"],
    "kid subsets 0": ["kid", "--real", "real", "--fake", "real", *D, "--subsets", "0"],
    "features out folder": ["features", "real", "--out", "adir/x.npz/", *D],
    "make-shapes res": ["datasets", "make-shapes", "--num", "1", "--res", "100000", "--out", "s.zip"],
    "ppl nan network": [
        "ppl",
        "--network",
        "nan.sg2",
        "--num",
        "4",
        "--device",
        "cpu",
        "--lpips",
        "shapes-lpips",
    ],
    "ppl plots into a file": ["ppl", "--network", "net.sg2", "--num", "4", "--plots", "afile"],
    "attribute threshold nan": ["attribute", "real/0.png", "--network", "net.sg2", "--threshold", "nan"],
    "train gamma -1": ["train", "--data", "real", "--out", "run", "--gamma", "-1"],
    "classifiers images 0": ["classifiers", "train", "--data", "real", "--out", "cls", "--images", "0"],
    "project out is a file": ["project", "real/0.png", "--network", "net.sg2", "--out", "afile"],
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_exit_2(args: list[str], inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(inputs)
    before = sorted(p.name for p in inputs.iterdir()) + sorted(p.name for p in (inputs / "adir").iterdir())
    result = CliRunner().invoke(cli, args)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2, result.output
    assert len(errors) == 1 and result.output.rstrip().endswith(errors[0]), result.output
    assert "Traceback" not in result.output
    after = sorted(p.name for p in inputs.iterdir()) + sorted(p.name for p in (inputs / "adir").iterdir())
    assert after == before


def test_sixteen_bit_png_names_the_file(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(inputs)
    result = CliRunner().invoke(cli, CASES["16-bit png"])
    assert "deep/0.png is a 16-bit PNG" in result.output


def test_nan_generator_is_refused(inputs: Path) -> None:
    import sg2eval
    from sg2model.core.errors import Sg2Error

    with pytest.raises(Sg2Error, match="NaN or infinite"):
        sg2eval.fid(str(inputs / "real"), str(inputs / "nan.sg2"), num_fake=4, detector="shapes-features",
                    device="cpu", cache=False)  # fmt: skip


def test_float16_overflow_falls_back_to_float32() -> None:
    from sg2eval.metrics.pr import PrConfig, compute_precision_recall

    rng = np.random.default_rng(0)
    real, fake = (
        (rng.random((40, 64)) * 60).astype(np.float32),
        (rng.random((40, 64)) * 60).astype(np.float32),
    )
    assert (real**2).sum(1).max() > 65504
    with pytest.warns(UserWarning, match="float16 distances overflowed"):
        half = compute_precision_recall(real, fake, PrConfig(distance_dtype="float16"))
    full = compute_precision_recall(real, fake, PrConfig())
    assert half.values == full.values and half.values["precision"] > 0.5
    assert half.params["distance_dtype"] == "float32" and half.params["distance_dtype_requested"] == "float16"


def test_outputs_honour_the_umask(tmp_path: Path) -> None:
    from sg2model.core.files import temporary_folder_beside, write_json

    old = os.umask(0o027)
    try:
        write_json(tmp_path / "a.json", {})
        folder = temporary_folder_beside(tmp_path / "out")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    assert folder.stat().st_mode & 0o777 == 0o750


def test_api_uses_the_same_rules() -> None:
    from sg2eval.metrics.kid import KidConfig
    from sg2eval.metrics.pr import PrConfig
    from sg2model.core.errors import Sg2Error

    for make in (lambda: PrConfig(k=0), lambda: KidConfig(num_subsets=0), lambda: PrConfig(row_batch=0)):
        with pytest.raises(Sg2Error, match="must be an integer >= 1"):
            make()
