"""Inception Score (Salimans et al. 2016, "Improved techniques for training GANs"), docs/interop.md.

``IS = exp(E_x KL(p(y|x) || p(y)))`` on the 1008 classes of the TF 2015-12-05 Inception graph, with the
logits taken *without* the classifier bias, as the original implementation does (it multiplies pool3 by the
softmax weights alone; stylegan2-ada-pytorch passes ``no_output_bias=True``; torch-fidelity names the feature
``logits_unbiased``). The images are cut into ``splits`` (10) consecutive chunks ``[i N / s, (i + 1) N / s)``;
each chunk's score uses its own marginal ``p(y)``; the result is the mean and the (population) standard
deviation of the chunk scores. Everything is computed in float64 from the logits (``log_softmax``).

Order: the official code takes the images in generation order (``shuffle_seed=None``); torch-fidelity first
permutes them with ``np.random.RandomState(2020).permutation(N)`` (``shuffle_seed=2020``), which moves the
score within its standard deviation.
"""

from __future__ import annotations

import numpy as np
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.result import Result


def inception_score(
    logits: np.ndarray | torch.Tensor,  # [N, C] unbiased logits (or log-probabilities)
    splits: int = 10,  # number of chunks
    shuffle_seed: int | None = None,  # None: keep the order; else RandomState(seed).permutation(N) first
) -> Result:
    """Inception Score of ``logits`` as a :class:`~sg2eval.result.Result` (``values={"is": mean,
    "is_std": std}``)."""
    x = torch.as_tensor(logits).to(torch.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise Sg2evalError(f"Inception Score needs class logits [N, C], got shape {tuple(x.shape)}")
    n = x.shape[0]
    if not 1 <= splits <= n:
        raise Sg2evalError(f"cannot cut {n} images into {splits} splits; use --splits between 1 and {n}")
    if shuffle_seed is not None:
        x = x[torch.from_numpy(np.random.RandomState(shuffle_seed).permutation(n))]
    log_p = x.log_softmax(dim=1)  # [N, C]
    scores = []
    for i in range(splits):
        chunk = log_p[i * n // splits : (i + 1) * n // splits]  # [n_i, C]
        log_marginal = chunk.exp().mean(dim=0).log()  # [C]
        kl = (chunk.exp() * (chunk - log_marginal)).sum(dim=1)  # [n_i]
        scores.append(float(kl.mean().exp()))
    params = {"num": n, "splits": splits, "shuffle_seed": shuffle_seed, "num_classes": int(x.shape[1])}
    values = {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}
    return Result(metric="is", values=values, params=params)
