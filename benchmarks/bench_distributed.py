"""Throughput of distributed evaluation: N processes under torchrun against one, on this machine.

Two jobs, each a whole ``sg2eval`` command run with ``torchrun --standalone --nproc_per_node=N``:

1. ``sg2eval features`` of a folder of PNG images with the Inception detector (a seeded random weight file
   in the pytorch-fid layout; its speed is the real network's);
2. ``sg2eval separability`` of a small generator against the built-in attribute classifiers.

Every process gets ``cores // N`` threads, so each run uses the whole machine. Contenders are interleaved in
rounds and the median of ``--rounds`` wall times is kept; the table prints images (or samples) per second
and the ratio of N processes to one. On a GPU machine pass ``--device cuda`` to run one process per GPU.

    python benchmarks/bench_distributed.py [--processes 1 2] [--images 96] [--samples 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_inputs(folder: Path, images: int) -> dict[str, str]:
    """128 px PNG images, a random Inception file and a small 32 px generator (the classifiers' size)."""
    from sg2model import Generator, save_network
    from tests.helpers.fake_weights import write_inception_pth

    pngs = folder / "images"
    pngs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(images):
        coarse = rng.integers(0, 256, (17, 17, 3), dtype=np.uint8)
        PIL.Image.fromarray(coarse).resize((128, 128), PIL.Image.Resampling.BILINEAR).save(
            pngs / f"{i:05d}.png"
        )
    weights = write_inception_pth(folder / "pt_inception-2015-12-05-6726825d.pth", seed=0)
    generator = Generator(
        64, 0, 64, 32, 3, channel_base=2048, channel_max=128, mapping_kwargs={"num_layers": 2}
    )
    network = save_network(folder / "net.sg2", G_ema=generator.eval())
    return {"images": str(pngs), "weights": str(weights), "network": str(network)}


def command(job: str, inputs: dict[str, str], folder: Path, args: argparse.Namespace) -> list[str]:
    if job == "features":
        return ["features", inputs["images"], "--out", str(folder / "features.npz"), "--weights",
                inputs["weights"], "--no-cache", "--device", args.device, "--batch-size", "16"]  # fmt: skip
    from sg2eval.builtin.paths import CLASSIFIERS_DIR, asset

    return ["separability", "--network", inputs["network"], "--classifiers", str(asset(CLASSIFIERS_DIR)),
            "--num", str(args.samples), "--batch", "64", "--device", args.device]  # fmt: skip


def timed_run(processes: int, argv: list[str], threads: int) -> float:
    """Wall seconds of one torchrun of the ``sg2eval`` command ``argv``."""
    cli = shutil.which("sg2eval") or str(Path(sys.executable).with_name("sg2eval"))
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    # "--" ends torchrun's options: its argparse takes abbreviations, so "--num" would be ambiguous there
    launcher = [*run, f"--nproc_per_node={processes}", "--no-python", "--", cli]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "SG2EVAL_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([*launcher, *argv], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--images", type=int, default=96, help="images for the feature extraction job")
    parser.add_argument("--samples", type=int, default=2000, help="generated samples for separability")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", nargs="+", default=["features", "separability"])
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f}; whole commands under torchrun, "
          f"median of {args.rounds} interleaved rounds")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = write_inputs(folder, args.images)
        for job in args.jobs:
            argv = command(job, inputs, folder, args)
            times: dict[int, list[float]] = {n: [] for n in args.processes}
            for _ in range(args.rounds):
                for n in args.processes:
                    times[n].append(timed_run(n, argv, max(1, cores // n)))
            items = args.images if job == "features" else args.samples
            base = statistics.median(times[args.processes[0]])
            print(f"\n{job}: {items} {'images' if job == 'features' else 'samples'}")
            print(f"{'processes':>10}{'threads each':>14}{'median s':>10}{'items/s':>10}{'x 1 process':>13}")
            for n in args.processes:
                median, threads = statistics.median(times[n]), max(1, cores // n)
                print(f"{n:>10}{threads:>14}{median:>10.2f}{items / median:>10.1f}{base / median:>13.2f}")


if __name__ == "__main__":
    main()
