"""Every metric under torch.distributed (gloo on the CPU): 2 and 3 processes give the one-process numbers,
a failing process stops the whole job with one error, and the incremental objects equal the batch API.

The jobs run in processes joined by :func:`sg2model.core.distributed.spawn_local`, the way ``torchrun``
starts them; one test runs the ``sg2eval`` command itself under ``torchrun``.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

import sg2eval
from sg2eval.distributed import shard_range
from sg2eval.errors import Sg2evalError
from sg2eval.projector import Projector, ProjectorConfig
from sg2eval.sources import open_source
from sg2model import save_network
from sg2model.core.distributed import World, spawn_local
from tests.helpers.fake_weights import write_small_detector
from tests.helpers.tiny_networks import tiny_sg2_generator

NUM = 13  # items per job: uneven shares for 2 and 3 processes
ROOT = Path(__file__).resolve().parents[1]


class PixelClassifiers:
    """Three attribute logits from the images' colour balance (importable by the worker processes)."""

    names = ["red", "green", "blue"]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        half = images.shape[3] // 2
        return images[..., :half].mean(dim=(2, 3)) - images[..., half:].mean(dim=(2, 3))  # [N, 3]


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A differentiable stand-in for LPIPS on [0, 255] images: mean squared difference per image."""
    return (a - b).square().mean(dim=(1, 2, 3)) / 255


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A network file, real images (a PNG folder), a small TorchScript detector and a cache folder."""
    root = tmp_path_factory.mktemp("distributed")
    save_network(root / "net.sg2", G_ema=tiny_sg2_generator(res=16))
    real = root / "real"
    real.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (NUM + 4, 16, 16, 3), dtype=np.uint8)
    for i, image in enumerate(pixels):
        PIL.Image.fromarray(image).save(real / f"{i:03d}.png")
    detector = write_small_detector(root / "small.pt", seed=0)
    return {"root": str(root), "network": str(root / "net.sg2"), "real": str(real),
            "detector": f"torchscript:{detector}"}  # fmt: skip


def every_metric(job: dict[str, str], cache_dir: str) -> dict[str, Any]:
    """One run of every metric on the job's inputs: headline values and per-item arrays. Generated images go
    through the networks one at a time (batch size 1): a float32 network's output depends on its batch's
    composition at rounding level, and the shares cut batches differently."""
    run = {"detector": job["detector"], "device": "cpu", "batch_size": 1, "cache_dir": cache_dir}
    net = job["network"]
    fid = sg2eval.fid(job["real"], net, num_fake=NUM, **run)  # type: ignore[arg-type]
    kid = sg2eval.kid(job["real"], net, num_fake=NUM, subset_size=5, num_subsets=7, **run)  # type: ignore[arg-type]
    pr = sg2eval.precision_recall(job["real"], net, num_fake=NUM, row_batch=4, col_batch=5, **run)  # type: ignore[arg-type]
    features = sg2eval.compute_features(net, num=NUM, **run).features  # type: ignore[arg-type]
    ppl = sg2eval.ppl(net, "ppl_wend", num=NUM, lpips=pixel_distance, batch_size=1, device="cpu")
    sep = sg2eval.separability(net, PixelClassifiers(), num=NUM + 7, batch_size=1, workers=1, device="cpu")
    G = tiny_sg2_generator(res=16)
    projector = Projector(G, pixel_distance, ProjectorConfig(num_steps=3, w_avg_samples=64))
    images = np.random.default_rng(1).integers(0, 256, (5, 3, 16, 16), dtype=np.uint8)
    projection = projector.project_many(images, list(range(5)), batch_size=1)
    return {
        "fid": fid.value,
        "kid": kid.values["kid"],
        "precision": pr.values["precision"],
        "recall": pr.values["recall"],
        "features": features,
        "ppl": ppl.value,
        "ppl_pairs": np.asarray(ppl.per_item["distance"]),
        "separability": sep.value,
        "entropies": sep.per_item["entropies"]["entropy_bits"].to_numpy(),
        "projection": projection.distance,
        "projected_w": projection.w,
    }


def _worker(job: dict[str, str], out: str) -> None:
    rank = int(os.environ["RANK"])
    results = every_metric(job, str(Path(out).parent / f"cache-{os.environ['WORLD_SIZE']}"))
    if rank == 0:
        Path(out).write_bytes(pickle.dumps(results))


@pytest.fixture(scope="module")
def one_process(job: dict[str, str]) -> dict[str, Any]:
    return every_metric(job, str(Path(job["root"]) / "cache-1"))


@pytest.mark.parametrize("processes", [2, 3])
def test_every_metric_gives_the_one_process_numbers(
    job: dict[str, str], one_process: dict[str, Any], processes: int
) -> None:
    out = Path(job["root"]) / f"results-{processes}.pkl"
    spawn_local(processes, _worker, (job, str(out)))
    sharded = pickle.loads(out.read_bytes())
    assert sharded.keys() == one_process.keys()
    for name, value in one_process.items():  # equal up to the order of floating-point sums
        np.testing.assert_allclose(sharded[name], value, rtol=1e-7, atol=1e-12, err_msg=name)


def test_shards_cover_every_item_once() -> None:
    for num in (0, 1, 5, 13):
        for size in (1, 2, 3, 4):
            ranges = [shard_range(num, World(rank, size, torch.device("cpu"))) for rank in range(size)]
            assert [i for r in ranges for i in r] == list(range(num))
            assert max(len(r) for r in ranges) - min(len(r) for r in ranges) <= 1


# ----------------------------------------------------------------------------------------------------------
# Failures: a bad item in one process's share stops every process with one line.


def _failing_worker(job: dict[str, str], folder: str, out: str) -> None:
    try:
        sg2eval.compute_features(folder, detector=job["detector"], device="cpu", batch_size=2, cache=False)
    except Sg2evalError as error:
        Path(f"{out}.{os.environ['RANK']}").write_text(str(error))


def test_a_failing_process_stops_every_process_with_one_error(job: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(job["real"], folder)
    last = sorted(folder.iterdir())[-1]
    last.write_bytes(b"not a png")  # in the last process's share only
    spawn_local(2, _failing_worker, (job, str(folder), str(tmp_path / "error")))
    messages = [(tmp_path / f"error.{rank}").read_text() for rank in range(2)]
    assert messages[0] == messages[1]
    assert messages[0].startswith("process 1 of 2 failed:") and last.name in messages[0]
    assert "\n" not in messages[0]


def test_torchrun_cli_prints_and_writes_on_rank_0_and_fails_cleanly(
    job: dict[str, str], tmp_path: Path
) -> None:
    sg2eval_cli = Path(sys.executable).with_name("sg2eval")
    base = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "--no-python",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = ["fid", "--real", job["real"], "--fake", job["network"], "--num-fake", str(NUM), "--detector",
            job["detector"], "--device", "cpu", "--no-cache", "--batch-size", "1"]  # fmt: skip
    done = subprocess.run([*base, str(sg2eval_cli), *args, "--json", str(tmp_path / "fid.json")],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("fid: ") == 1  # rank 0 alone prints
    written = json.loads((tmp_path / "fid.json").read_text())
    single = sg2eval.fid(job["real"], job["network"], num_fake=NUM, detector=job["detector"], device="cpu",
                         cache=False, batch_size=1)  # fmt: skip
    assert written["fid"] == pytest.approx(single.value, rel=1e-9)
    broken = tmp_path / "broken"
    shutil.copytree(job["real"], broken)
    sorted(broken.iterdir())[-1].write_bytes(b"")
    features = ["features", str(broken), "--out", str(tmp_path / "f.npz"), "--detector", job["detector"],
                "--device", "cpu", "--no-cache"]  # fmt: skip
    failed = subprocess.run([*base, str(sg2eval_cli), *features], capture_output=True, text=True, env=env,
                            timeout=300)  # fmt: skip
    assert failed.returncode != 0 and not (tmp_path / "f.npz").exists()
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: process 1 of 2 failed:"), failed.stderr
    assert not re.search(r'File ".*(sg2eval|sg2model)/', failed.stderr)  # torchrun's own report alone


# ----------------------------------------------------------------------------------------------------------
# Incremental metric objects.


def test_incremental_objects_equal_the_batch_api_with_uneven_batches(job: dict[str, str]) -> None:
    run = {"detector": job["detector"], "device": "cpu", "cache": False}
    images = open_source(job["network"], device="cpu").read_range(0, NUM)  # uint8 [13, 3, 16, 16]
    cuts = [0, 1, 6, 7, NUM]  # batches of 1, 5, 1 and 6 images
    objects = {
        "fid": sg2eval.FID(job["real"], **run),  # type: ignore[arg-type]
        "kid": sg2eval.KID(job["real"], subset_size=5, num_subsets=7, **run),  # type: ignore[arg-type]
        "pr": sg2eval.PrecisionRecall(job["real"], row_batch=4, **run),  # type: ignore[arg-type]
    }
    for metric in objects.values():
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            metric.update(torch.from_numpy(images[lo:hi]) if lo % 2 else images[lo:hi])
    batch = {
        "fid": sg2eval.fid(job["real"], images, **run),  # type: ignore[arg-type]
        "kid": sg2eval.kid(job["real"], images, subset_size=5, num_subsets=7, **run),  # type: ignore[arg-type]
        "pr": sg2eval.precision_recall(job["real"], images, row_batch=4, **run),  # type: ignore[arg-type]
    }
    for name, metric in objects.items():
        result = metric.compute()
        for key, value in batch[name].values.items():
            # the detector saw other batches: equal up to float32 rounding
            assert result.values[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (name, key)
        assert result.provenance["sources"]["fake"]["num"] == NUM
    fid = objects["fid"]
    first = fid.compute().value
    fid.reset()  # the real statistics stay; the generated side starts again
    fid.update(images[:7])
    assert fid.compute().value == pytest.approx(sg2eval.fid(job["real"], images[:7], **run).value, rel=1e-6)  # type: ignore[arg-type]
    assert fid.compute().value != pytest.approx(first)
