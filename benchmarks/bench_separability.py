"""Time and peak memory of linear separability for a small network on this CPU.

Each sample count runs in its own child process (so peak RSS, read from /proc/self/status VmHWM, belongs to
that run alone; the SVM worker processes' largest peak RSS is reported beside it). Phases: generation +
classification (streamed; images never kept), the per-attribute SVM fits in parallel worker processes
(ours), and — as the in-run peer — the same fits one after the other, as the official code does (only up to
``--sequential-max`` samples, since it doubles the SVM time).

No peer package implements linear separability, so the ratio column compares against that sequential
official-style fitting.

    OMP_NUM_THREADS=1 python benchmarks/bench_separability.py --nums 20000 200000
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time


def _peak_rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _child_pids() -> list[int]:
    """PIDs whose parent is this process (the SVM worker processes, still alive after the fits)."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            pids.append(int(stat.split("/")[2]))
    return pids


def _child(num: int, workers: int, sequential: bool, classifiers: str | None, batch: int) -> dict[str, float]:
    import torch

    from sg2eval.classifiers import (
        ClassifierEntry,
        ClassifierSet,
        build_attribute_network,
        load_classifier_set,
    )
    from sg2eval.metrics.separability import (
        entropies_from_arrays,
        generate_and_classify,
        score_from_entropies,
    )
    from sg2model import Generator

    torch.manual_seed(0)
    G = Generator(
        z_dim=512, w_dim=512, img_resolution=32, img_channels=3, channel_base=256, channel_max=16
    ).eval()
    if classifiers:
        cls = load_classifier_set(classifiers)
    else:  # one multi-head network, 11 logits (random weights: timing only)
        net = build_attribute_network(32, out_features=11, channel_base=256, channel_max=64)
        entries = [ClassifierEntry(f"attr{i}", "all.sg2", i) for i in range(11)]
        cls = ClassifierSet(entries, {"all.sg2": net}, 32)
    names = list(cls.names)
    out: dict[str, float] = {"num": num, "attributes": len(names), "rss_baseline_mb": _peak_rss_mb()}
    start = time.perf_counter()
    samples = generate_and_classify(G, cls, num, ["w"], batch_size=batch, seed=0)
    out["generate_s"] = time.perf_counter() - start
    out["rss_after_generate_mb"] = _peak_rss_mb()
    start = time.perf_counter()
    table = entropies_from_arrays(samples.latents["w"], samples.logits, names, workers=workers)
    out["svm_parallel_s"] = time.perf_counter() - start
    out["worker_peak_rss_mb"] = max((_peak_rss_mb(pid) for pid in _child_pids()), default=0.0)
    out["score"] = score_from_entropies(table["entropy_bits"])
    out["converged"] = float(table["converged"].mean())
    if sequential:
        start = time.perf_counter()
        seq = entropies_from_arrays(samples.latents["w"], samples.logits, names, workers=1)
        out["svm_sequential_s"] = time.perf_counter() - start
        out["same_score"] = float(score_from_entropies(seq["entropy_bits"]) == out["score"])
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nums", type=int, nargs="+", default=[20_000])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--sequential-max", type=int, default=20_000)
    parser.add_argument(
        "--classifiers", default=None, help="Classifier-set folder [random 11-logit network]."
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        sequential = args.child <= args.sequential_max
        print(json.dumps(_child(args.child, args.workers, sequential, args.classifiers, args.batch)))
        return
    rows = []
    for num in args.nums:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(num),
            "--workers",
            str(args.workers),
            "--sequential-max",
            str(args.sequential_max),
            "--batch",
            str(args.batch),
        ]
        if args.classifiers:
            cmd += ["--classifiers", args.classifiers]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nlinear separability, small G (32x32, z/w 512), {rows[0]['attributes']:.0f} attributes, "
        f"{args.workers} SVM worker processes, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print("peak MB: whole process (torch, models, latents, logits, SVM copies); base: after imports + models")
    header = (
        f"{'num':>8} {'generate s':>11} {'SVM ours s':>11} {'SVM seq s':>10} {'seq/ours':>9} {'total s':>8} "
        f"{'base MB':>8} {'peak MB':>8} {'worker MB':>10} {'score':>9}"
    )
    print(header)
    for r in rows:
        seq = r.get("svm_sequential_s")
        ratio = f"{seq / r['svm_parallel_s']:9.2f}" if seq else f"{'-':>9}"
        seq_text = f"{seq:10.1f}" if seq else f"{'-':>10}"
        total = r["generate_s"] + r["svm_parallel_s"]
        print(
            f"{r['num']:8.0f} {r['generate_s']:11.1f} {r['svm_parallel_s']:11.1f} {seq_text} {ratio} "
            f"{total:8.1f} {r['rss_baseline_mb']:8.0f} {r['peak_rss_mb']:8.0f} "
            f"{r['worker_peak_rss_mb']:10.0f} {r['score']:9.3f}"
        )


if __name__ == "__main__":
    main()
