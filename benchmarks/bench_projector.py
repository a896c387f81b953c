"""Projection speed: optimization steps per second, batched (4 and 8 targets) against one at a time.

A config-F generator at 256x256 (``Generator.from_config('F', 256)``; ``--channel-base/--channel-max`` give a
smaller-channel variant for slow machines), Appendix D's full step (w noise, synthesis, box downsampling,
distance, noise regularization, Adam, renormalization). The distance is ``vgg16-nv`` LPIPS on a seeded random
small TorchScript with NVIDIA's calling convention (``tests/helpers/fake_weights.py``), so the time is
mostly the generator's; ``--lpips-weights vgg16.pt`` times NVIDIA's real VGG16 instead.

For each batch size the first step is a warm-up; the table shows the median seconds per step, steps per
second of the batch, target-steps per second, and that rate over the one-at-a-time rate (the speed-up of
batching), all medians over ``--repeats`` interleaved rounds of the same run.

With ``--nvidia-repo DIR`` (default: ``$NVIDIA_STYLEGAN2_ADA_PYTORCH``), a checkout of stylegan2-ada-pytorch,
NVIDIA's ``projector.project()`` loop on one target runs in every round on the same generator weights
(:mod:`_nvidia_projector`) and the same VGG16 file, with as many steps; the last column is NVIDIA's seconds
per target-step over ours (> 1: sg2eval is faster).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_projector.py [--steps 3] [--batches 1,4,8]
        [--nvidia-repo DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _harness import machine_line
from _nvidia_projector import import_nvidia, max_abs_diff, nvidia_step_seconds, shared_generators

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


NVIDIA_ENV = "NVIDIA_STYLEGAN2_ADA_PYTORCH"
NVIDIA_ROW = "NVIDIA project() loop"


def print_rows(seconds: dict[str, float], batches: list[int]) -> None:
    """One row per contender: s/step, steps/s, target-steps/s, vs our one at a time, NVIDIA s / our s."""
    header = f"{'contender':<22} {'batch':>5} {'s/step':>9} {'steps/s':>9} {'target-steps/s':>15}"
    print(f"{header} {'vs one at a time':>17} {'NVIDIA/ours per target-step':>28}")
    per_target = {f"ours, batch {b}": seconds[f"ours, batch {b}"] / b for b in batches}
    base = per_target.get("ours, batch 1")
    nvidia = seconds.get(NVIDIA_ROW)
    for name, target_step in [*per_target.items(), (NVIDIA_ROW, nvidia)]:
        batch = batches[list(per_target).index(name)] if name in per_target else 1
        if target_step is None:
            print(f"{name:<22} {batch:>5} not run (pass --nvidia-repo)")
            continue
        ratio = f"{base / target_step:.2f}x" if base and name != NVIDIA_ROW else "-"
        vs_nvidia = f"{nvidia / target_step:.2f}" if nvidia and name != NVIDIA_ROW else "-"
        step = target_step * batch
        rates = f"{step:>9.3f} {1 / step:>9.3f} {1 / target_step:>15.3f}"
        print(f"{name:<22} {batch:>5} {rates} {ratio:>17} {vs_nvidia:>28}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--channel-base", type=int, default=32768, help="F: 32768")
    parser.add_argument("--channel-max", type=int, default=512, help="F: 512")
    parser.add_argument(
        "--batches", default="1,4,8", help="Comma-separated batch sizes (1 = one at a time)."
    )
    parser.add_argument("--steps", type=int, default=3, help="Timed steps per batch size (after 1 warm-up).")
    parser.add_argument("--lpips-weights", default=None, help="NVIDIA vgg16.pt instead of the small fake.")
    parser.add_argument(
        "--fused-modconv",
        action="store_true",
        help="Grouped modulated convs (the projector uses plain ones).",
    )
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds (3; quick: 2)")
    parser.add_argument(
        "--nvidia-repo",
        default=os.environ.get(NVIDIA_ENV),
        help=f"stylegan2-ada-pytorch checkout to time its project() too (default: ${NVIDIA_ENV})",
    )
    parser.add_argument("--quick", action="store_true", help="2 timed steps, batches 1 and 4, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.batches = 2, "1,4"
    repeats = args.repeats or (2 if args.quick else 3)

    nvidia = import_nvidia(Path(args.nvidia_repo)) if args.nvidia_repo else None
    if nvidia is None:
        torch.manual_seed(0)
        G = Generator.from_config(
            "F", args.resolution, channel_base=args.channel_base, channel_max=args.channel_max
        ).eval()
    else:
        their_G, G = shared_generators(nvidia[0], args.resolution, args.channel_base, args.channel_max)
        diff = max_abs_diff(their_G, G)
        print(f"same weights: max |NVIDIA G(z) - our G(z)| = {diff:.3g} (seed 0, constant noise)")
        assert diff < 1e-3, diff
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
    print(machine_line())
    print(
        f"projector steps, {args.resolution}x{args.resolution}, G channel_base={args.channel_base} "
        f"channel_max={args.channel_max} ({params / 1e6:.2f}M params), fused_modconv={args.fused_modconv}, "
        f"LPIPS {Path(weights).name}, "
        f"median of {args.steps} steps, median of {repeats} interleaved rounds"
    )
    rounds: dict[str, list[float]] = {f"ours, batch {batch}": [] for batch in batches}
    time_nvidia = nvidia_step_seconds(nvidia[1], nvidia[2], their_G, weights) if nvidia else None
    for _ in range(repeats):
        for batch in batches:
            rounds[f"ours, batch {batch}"].append(step_seconds(projector, targets[:batch]))
        if time_nvidia is not None:
            rounds.setdefault(NVIDIA_ROW, []).append(time_nvidia(targets[0], config.num_steps))
    seconds = {name: statistics.median(found) for name, found in rounds.items()}
    print_rows(seconds, batches)


if __name__ == "__main__":
    main()
