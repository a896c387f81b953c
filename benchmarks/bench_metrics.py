"""The metric cores against their peers on the same feature arrays, measured in one run.

1. FID from 2048-d statistics (mu, sigma) vs pytorch-fid (``scipy.linalg.sqrtm``), torch-fidelity and
   torchmetrics (in this process; one warm-up round, then interleaved rounds).
2. KID (100 subsets of 1000, ``--quick`` 10; cubic kernel) on [N, 2048] features vs torch-fidelity and
   torchmetrics (in this
   process, interleaved).
3. Precision/recall, k = 3, on N x N random 4096-d features (VGG16 fc2 size; 5 000 and 10 000; ``--quick``
   2 000) vs prdc and torch-fidelity: each contender in a child process per round (time and peak RSS).

The FID and KID inputs are random features with the covariance structure of a low-rank mixing, so the
square root and the kernels are as costly as on real features. Ratio: peer seconds / our seconds (> 1:
sg2eval faster), medians of ``--repeats`` rounds; the value column shows the contenders agree.

    python benchmarks/bench_metrics.py [--quick] [--repeats 3] [--skip fid kid pr]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from _harness import (
    OURS,
    Contender,
    Params,
    child_entry,
    common_parser,
    in_children,
    in_process,
    machine_line,
    print_table,
)

FID_DIM = 2048


def feature_pair(num: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and fake float32 features [num, dim]: ReLU of a 16-D latent through one random embedding (fake
    shifted and widened), so distances and kernels behave like those of real detector features."""
    rng = np.random.default_rng(seed)
    embed = rng.standard_normal((16, dim)).astype(np.float32)
    real = np.maximum(rng.standard_normal((num, 16)).astype(np.float32) @ embed, 0)
    fake = np.maximum((rng.standard_normal((num, 16)).astype(np.float32) * 1.2 + 0.2) @ embed, 0)
    noise = 0.1 * rng.standard_normal((2, num, dim)).astype(np.float32)  # full rank, as real covariances
    return real + noise[0], fake + noise[1]


def fid_calls(num: int) -> dict[str, Callable[[], object]]:
    import torch
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    from torchmetrics.image.fid import _compute_fid

    from sg2eval.metrics.fid import frechet_distance, gaussian_stats

    real, fake = (gaussian_stats(f) for f in feature_pair(num, FID_DIM, seed=1))
    stats = [{"mu": s.mu, "sigma": s.sigma} for s in (real, fake)]
    tensors = [torch.from_numpy(a) for a in (real.mu, real.sigma, fake.mu, fake.sigma)]
    return {
        OURS: lambda: frechet_distance(real, fake),
        "pytorch-fid": lambda: float(calculate_frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)),
        "torch-fidelity": lambda: float(
            fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
        ),
        "torchmetrics": lambda: float(_compute_fid(*tensors)),
    }


def kid_calls(num: int, subsets: int) -> dict[str, Callable[[], object]]:
    import torch
    from torch import nn
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torchmetrics.image.kid import KernelInceptionDistance

    from sg2eval.metrics.kid import KidConfig, compute_kid

    real, fake = feature_pair(num, FID_DIM, seed=3)
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)

    def torchmetrics() -> float:
        metric = KernelInceptionDistance(feature=nn.Identity(), subsets=subsets, subset_size=1000)
        metric.update(real_t, real=True)
        metric.update(fake_t, real=False)
        return float(metric.compute()[0])

    def torch_fidelity() -> float:
        found = kid_features_to_metric(
            fake_t, real_t, kid_subsets=subsets, kid_subset_size=1000, verbose=False
        )
        return float(found["kernel_inception_distance_mean"])

    return {
        OURS: lambda: compute_kid(real, fake, KidConfig(num_subsets=subsets)).values["kid"],
        "torch-fidelity": torch_fidelity,
        "torchmetrics": torchmetrics,
    }


def _pr_inputs(params: Params) -> tuple[np.ndarray, np.ndarray]:
    return feature_pair(params["num"], params["dim"], seed=2)


def pr_ours(params: Params) -> Callable[[], object]:
    from sg2eval.metrics.pr import precision_recall_values

    real, fake = _pr_inputs(params)
    return lambda: "P={:.4f} R={:.4f}".format(*precision_recall_values(real, fake))


def pr_prdc(params: Params) -> Callable[[], object]:
    from prdc import compute_prdc

    real, fake = _pr_inputs(params)

    def run() -> str:
        found = compute_prdc(real, fake, nearest_k=3)  # also density and coverage: prdc has no P&R-only call
        return f"P={found['precision']:.4f} R={found['recall']:.4f}"

    return run


def pr_torch_fidelity(params: Params) -> Callable[[], object]:
    import torch
    from torch_fidelity.metric_prc import prc_features_to_metric

    real, fake = (torch.from_numpy(a) for a in _pr_inputs(params))

    def run() -> str:
        found = prc_features_to_metric(
            fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
        )
        return f"P={found['precision']:.4f} R={found['recall']:.4f}"

    return run


PR_CONTENDERS: dict[str, Contender] = {OURS: pr_ours, "prdc": pr_prdc, "torch-fidelity": pr_torch_fidelity}


def main() -> None:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--stats-num", type=int, default=None, help="features behind the FID statistics")
    parser.add_argument("--kid-num", type=int, default=None, help="features per set for KID")
    parser.add_argument(
        "--pr-nums", type=int, nargs="+", default=None, help="P&R sizes (default 2000 4000 5000 8000 10000)"
    )
    parser.add_argument("--pr-dim", type=int, default=4096)
    parser.add_argument("--skip", nargs="*", default=[], choices=["fid", "kid", "pr"])
    args = parser.parse_args()
    child_entry(args, PR_CONTENDERS)
    print(machine_line())
    if "fid" not in args.skip:
        num = args.stats_num or (4096 if args.quick else 10_000)
        measured = in_process(fid_calls(num), args.repeats, warmup=False)
        print_table(f"FID from {FID_DIM}-d statistics (of {num} features), in process", measured)
    if "kid" not in args.skip:
        num, subsets = args.kid_num or (1000 if args.quick else 5000), 10 if args.quick else 100
        measured = in_process(kid_calls(num, subsets), args.repeats, warmup=False)
        title = f"KID, {num} x {num} {FID_DIM}-d features, {subsets} subsets of 1000, in process"
        print_table(title, measured)
    if "pr" not in args.skip:
        for num in args.pr_nums or ([2000] if args.quick else [2000, 4000, 5000, 8000, 10_000]):
            params = {"num": num, "dim": args.pr_dim}
            measured = in_children(__file__, list(PR_CONTENDERS), params, args.repeats)
            print_table(
                f"precision/recall k=3, {num} x {num} features of dim {args.pr_dim}, child process per run",
                measured,
            )


if __name__ == "__main__":
    main()
