"""Training speed (sec/kimg) and peak memory of the StyleGAN2 trainer, per Table 1 config, on this machine.

Each row trains a small network (default 32x32, batch 8, channel base 2048, channel max 64, 2 mapping
layers, w_dim 64) on the built-in shapes dataset in a fresh process, times ``--steps`` iterations after
``--warmup`` iterations and reports seconds per thousand real images and the process's peak memory
(resident set on CPUs, allocated memory on CUDA). Ratios are against config F measured in the same run;
B (R1 every step, no lazy regularization) and C (lazy R1, no path length) show what the regularizers cost.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_training.py --res 32 --steps 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS: tuple[tuple[str, dict[str, object]], ...] = (
    ("B", {}),
    ("C", {}),
    ("D", {}),
    ("E", {}),
    ("F", {}),
    ("F+SN-G+SN-D", {"sn_g": True, "sn_d": True}),
)


def measure(config: str, extra: dict[str, object], args: argparse.Namespace, data: str) -> dict[str, float]:
    """Time ``args.steps`` training iterations in this process."""
    import resource

    import torch

    from sg2model.training import Trainer, TrainingOptions

    torch.set_num_threads(args.threads)
    options = TrainingOptions(
        data=data,
        out=tempfile.mkdtemp(),
        config=config,
        batch=args.batch,
        channel_base=args.channel_base,
        channel_max=args.channel_max,
        map_layers=2,
        w_dim=args.w_dim,
        progress=False,
        device=args.device,
        **extra,  # type: ignore[arg-type]
    )
    trainer = Trainer(options)
    for _ in range(args.warmup):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    elapsed = time.perf_counter() - start
    return {
        "sec_per_kimg": elapsed / (args.steps * args.batch / 1000),
        "peak_mb": peak,
        "g_params": sum(p.numel() for p in trainer.G.parameters()),
        "d_params": sum(p.numel() for p in trainer.D.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--res", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=16, help="timed iterations (16 = one R1 interval)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--channel-base", type=int, default=2048)
    parser.add_argument("--channel-max", type=int, default=64)
    parser.add_argument("--w-dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        name, extra = next((n, e) for n, e in ROWS if n == args.one)
        print(json.dumps(measure(name.split("+")[0], extra, args, args.data)))
        return

    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "shapes.zip")
        images, attributes = make_shapes(512, resolution=args.res, seed=0)
        write_labelled_zip(data, images, attributes, ATTRIBUTES)
        results = {}
        for name, _ in ROWS:
            command = [sys.executable, __file__, "--one", name, "--data", data] + [
                a for a in sys.argv[1:] if a not in ("--one", "--data")
            ]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
    base = results["F"]
    print(
        f"StyleGAN2 training, {args.res}x{args.res}, batch {args.batch}, channel base {args.channel_base}, "
        f"max {args.channel_max}, w_dim {args.w_dim}, {args.steps} timed steps, device {args.device}, "
        f"{args.threads} thread(s)"
    )
    print("| config | G params | D params | sec/kimg | x F | peak MB | x F |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['g_params']:,} | {r['d_params']:,} | {r['sec_per_kimg']:.1f} | "
            f"{r['sec_per_kimg'] / base['sec_per_kimg']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['peak_mb'] / base['peak_mb']:.2f} |"
        )


if __name__ == "__main__":
    main()
