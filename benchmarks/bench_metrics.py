"""Benchmark of the distribution-metric core against its peers, all measured in the same run.

1. Inception feature extraction from one PNG folder with one weight file: sg2eval vs torch-fidelity vs
   pytorch-fid (images/s, ratio to sg2eval, largest feature difference to sg2eval).
2. ``trace(sqrtm(S1 S2))`` for 2048x2048 covariances: our ``eigh`` route vs torch-fidelity's ``eigvals`` vs
   ``scipy.linalg.sqrtm`` (the official code's call), with each route's FID difference to ``eigh``.
3. Precision/recall on N x N random features of dimension D (default 10 000 x 10 000, D = 4096 as VGG16 fc2):
   sg2eval (torch, blocks of 10 000) vs prdc.

Without ``--weights`` a seeded random Inception file in the pytorch-fid layout is written (the official
file cannot be downloaded here); the speed of a random network equals the real one's.

    python benchmarks/bench_metrics.py [--num 64] [--size 299] [--pr-num 10000] [--pr-dim 4096]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def write_folder(root: Path, num: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    smooth = rng.integers(0, 256, (num, size // 8 + 1, size // 8 + 1, 3), dtype=np.uint8)
    paths = []
    for i in range(num):
        image = PIL.Image.fromarray(smooth[i]).resize((size, size), PIL.Image.Resampling.BILINEAR)
        paths.append(root / f"{i:05d}.png")
        image.save(paths[-1])
    return paths


def bench_features(
    weights: Path, folder: Path, files: list[Path], batch: int
) -> list[tuple[str, float, float]]:
    import pytorch_fid.inception as pfid
    from pytorch_fid.fid_score import get_activations
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.utils import get_featuresdict_from_dataset, prepare_input_from_descriptor

    import sg2eval

    ours, t_ours = timed(
        lambda: (
            sg2eval.compute_features(
                str(folder), weights=str(weights), batch_size=batch, cache=False
            ).features
        )
    )

    def torch_fidelity() -> np.ndarray:
        extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
        )
        dataset = prepare_input_from_descriptor(
            {"input": str(folder)}, samples_find_deep=False, verbose=False
        )
        found = get_featuresdict_from_dataset(dataset, extractor, batch, False, False, False)
        return found["2048"].numpy()

    theirs_tf, t_tf = timed(torch_fidelity)

    state = torch.load(weights, weights_only=True)
    pfid.load_state_dict_from_url = lambda *a, **k: state  # offline: hand pytorch-fid the same weights

    def pytorch_fid() -> np.ndarray:
        model = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
        return get_activations([str(f) for f in files], model, batch, 2048, "cpu", num_workers=2)

    theirs_pf, t_pf = timed(pytorch_fid)
    n = len(files)
    return [
        ("sg2eval", n / t_ours, 0.0),
        ("torch-fidelity", n / t_tf, float(np.abs(theirs_tf - ours).max())),
        ("pytorch-fid", n / t_pf, float(np.abs(theirs_pf - ours).max())),
    ]


def bench_sqrtm(dim: int, samples: int, repeats: int = 2) -> list[tuple[str, float, float, float]]:
    """Single-thread CPU time, best of ``repeats`` with routes interleaved (robust to other jobs)."""
    from threadpoolctl import threadpool_limits

    from sg2eval.metrics.fid import frechet_distance, gaussian_stats

    rng = np.random.default_rng(1)
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    real = gaussian_stats(rng.standard_normal((samples, dim)) @ mixing)
    fake = gaussian_stats((rng.standard_normal((samples, dim)) * 1.1 + 0.05) @ mixing)
    methods = ("eigh", "eigvals", "sqrtm")
    best = dict.fromkeys(methods, float("inf"))
    values = {}
    with threadpool_limits(1):
        for _ in range(repeats):
            for method in methods:
                cpu = time.process_time()
                values[method] = frechet_distance(real, fake, method)  # type: ignore[arg-type]
                best[method] = min(best[method], time.process_time() - cpu)
    return [(m, best[m], values[m], abs(values[m] - values["eigh"])) for m in methods]


def bench_pr(num: int, dim: int) -> list[tuple[str, float, float, float]]:
    from prdc import compute_prdc

    from sg2eval.metrics.pr import precision_recall_values

    rng = np.random.default_rng(2)
    embed = rng.standard_normal((16, dim)).astype(np.float32)  # features on a 16-D manifold, like real ones
    real = np.maximum(rng.standard_normal((num, 16)).astype(np.float32) @ embed, 0)
    fake = np.maximum((rng.standard_normal((num, 16)).astype(np.float32) * 1.2 + 0.2) @ embed, 0)
    (p_ours, r_ours), t_ours = timed(lambda: precision_recall_values(real, fake))
    peer, t_peer = timed(lambda: compute_prdc(real, fake, nearest_k=3))
    return [("sg2eval", t_ours, p_ours, r_ours), ("prdc", t_peer, peer["precision"], peer["recall"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="Inception .pth (pytorch-fid layout)")
    parser.add_argument("--num", type=int, default=64, help="images for the extraction benchmark")
    parser.add_argument("--size", type=int, default=299, help="image size (299: no resize in any package)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--sqrtm-dim", type=int, default=2048)
    parser.add_argument("--pr-num", type=int, default=10_000)
    parser.add_argument("--pr-dim", type=int, default=4096)
    parser.add_argument("--skip", nargs="*", default=[], choices=["features", "sqrtm", "pr"])
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f} (shared machine: compare ratios)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "features" not in args.skip:
            weights = args.weights
            if weights is None:
                from tests.helpers.fake_weights import write_inception_pth

                weights = write_inception_pth(root / "pt_inception-2015-12-05-6726825d.pth", seed=0)
            files = write_folder(root / "images", args.num, args.size)
            print(
                f"\n1. Inception features, {args.num} PNG images {args.size}x{args.size}, batch {args.batch}"
            )
            rows = bench_features(weights, root / "images", files, args.batch)
            print(f"{'package':<16}{'images/s':>10}{'ratio':>8}{'max |feature diff|':>20}")
            for name, rate, diff in rows:
                print(f"{name:<16}{rate:>10.2f}{rate / rows[0][1]:>8.2f}{diff:>20.2e}")
            print("(pytorch-fid scales inputs by /255 where the TF graph uses (x-128)/128: features differ)")
        if "sqrtm" not in args.skip:
            print(f"\n2. trace sqrtm(S1 S2), {args.sqrtm_dim}x{args.sqrtm_dim} float64")
            rows_s = bench_sqrtm(args.sqrtm_dim, 2 * args.sqrtm_dim)
            print(f"{'route':<16}{'1-thr CPU s':>12}{'x eigh':>8}{'FID':>14}{'|FID - FID_eigh|':>20}")
            for name, seconds, value, diff in rows_s:
                print(f"{name:<16}{seconds:>12.2f}{seconds / rows_s[0][1]:>8.2f}{value:>14.8f}{diff:>20.2e}")
        if "pr" not in args.skip:
            print(f"\n3. precision/recall, {args.pr_num} x {args.pr_num} features of dim {args.pr_dim}, k=3")
            rows_p = bench_pr(args.pr_num, args.pr_dim)
            print(f"{'package':<16}{'seconds':>10}{'x ours':>8}{'precision':>11}{'recall':>9}")
            for name, seconds, p, r in rows_p:
                print(f"{name:<16}{seconds:>10.2f}{seconds / rows_p[0][1]:>8.2f}{p:>11.4f}{r:>9.4f}")


if __name__ == "__main__":
    main()
