"""Projection speed: optimization steps per second, batched (8 and 32 targets) against one at a time.

A config-F generator at 256x256 (``Generator.from_config('F', 256)``; ``--channel-base/--channel-max`` give a
smaller-channel variant for slow machines), Appendix D's full step (w noise, synthesis, box downsampling,
distance, noise regularization, Adam, renormalization). The distance is ``vgg16-nv`` LPIPS on a seeded random
small TorchScript with NVIDIA's calling convention (``tests/helpers/fake_weights.py``), so the time is
mostly the generator's; ``--lpips-weights vgg16.pt`` times NVIDIA's real VGG16 instead.

For each batch size the first step is a warm-up; the table shows the median seconds per step, steps per
second of the batch, target-steps per second, and that rate over the one-at-a-time rate (the speed-up of
batching), all measured in the same run.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_projector.py [--steps 4] [--batches 1,8,32]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sg2eval.detectors.lpips import get_lpips
from sg2eval.projector import Projector, ProjectorConfig, StepReport, compute_w_stats
from sg2model import Generator


def step_seconds(projector: Projector, targets: np.ndarray) -> float:
    """Median wall time of the steps after the first of one projection of ``targets``."""
    stamps: list[float] = []

    def stamp(report: StepReport) -> None:
        stamps.append(time.perf_counter())

    projector.project(targets, seeds=list(range(len(targets))), callback=stamp)
    return statistics.median(np.diff(stamps).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--channel-base", type=int, default=32768, help="F: 32768")
    parser.add_argument("--channel-max", type=int, default=512, help="F: 512")
    parser.add_argument(
        "--batches", default="1,8,32", help="Comma-separated batch sizes (1 = one at a time)."
    )
    parser.add_argument("--steps", type=int, default=4, help="Timed steps per batch size (after 1 warm-up).")
    parser.add_argument("--lpips-weights", default=None, help="NVIDIA vgg16.pt instead of the small fake.")
    parser.add_argument(
        "--fused-modconv",
        action="store_true",
        help="Grouped modulated convs (the projector uses plain ones).",
    )
    parser.add_argument("--quick", action="store_true", help="2 timed steps, batches 1 and 4")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.batches = 2, "1,4"

    torch.manual_seed(0)
    G = Generator.from_config(
        "F", args.resolution, channel_base=args.channel_base, channel_max=args.channel_max
    ).eval()
    weights = args.lpips_weights
    if weights is None:
        from tests.helpers.fake_weights import write_nvidia_vgg16_torchscript

        weights = str(write_nvidia_vgg16_torchscript(Path(tempfile.mkdtemp()) / "vgg16.pt", seed=0))
    distance = get_lpips("vgg16-nv", weights=weights)
    config = ProjectorConfig(num_steps=args.steps + 1)
    stats = compute_w_stats(G, config)
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.RandomState(0)
    targets = rng.randint(0, 256, (max(batches), 3, args.resolution, args.resolution)).astype(np.uint8)
    projector = Projector(G, distance.distance, config, w_stats=stats)
    projector.synthesis_kwargs = {"fused_modconv": args.fused_modconv}

    params = sum(p.numel() for p in G.parameters())
    print(
        f"projector steps, {args.resolution}x{args.resolution}, G channel_base={args.channel_base} "
        f"channel_max={args.channel_max} ({params / 1e6:.2f}M params), fused_modconv={args.fused_modconv}, "
        f"LPIPS {Path(weights).name}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), median of {args.steps} steps"
    )
    print(f"{'batch':>5} {'s/step':>9} {'steps/s':>9} {'target-steps/s':>15} {'vs one at a time':>17}")
    base = None
    for batch in batches:
        seconds = step_seconds(projector, targets[:batch])
        rate = batch / seconds
        base = base or (rate if batch == 1 else None)
        ratio = f"{rate / base:.2f}x" if base else "-"
        print(f"{batch:>5} {seconds:>9.3f} {1 / seconds:>9.3f} {rate:>15.3f} {ratio:>17}")


if __name__ == "__main__":
    main()
