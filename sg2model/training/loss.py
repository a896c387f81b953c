"""StyleGAN2 losses: non-saturating logistic loss, R1 and path length regularization (pure functions).

Paper Section 3.2 (Eq. 4) and Appendix B; docs/facts.md, "Training":

- G: ``softplus(-D(G(z)))`` (non-saturating, Goodfellow et al. 2014);
- D: ``softplus(D(G(z))) + softplus(-D(x))``;
- R1 (Mescheder et al. 2018): ``gamma / 2 * ||grad_x D(x)||^2`` on reals;
- path length: ``y = randn / sqrt(H * W)``, ``J^T y = grad_ws sum(G(w) * y)``,
  ``len = sqrt(mean over ws of sum over w_dim of (J^T y)^2)``; ``a = pl_mean.lerp(mean(len), 0.01)``;
  penalty ``(len - a)^2 * pl_weight``.

Every function returns per-sample values ``[N]``; the training loop takes means and applies gains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def generator_logistic(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss ``softplus(-D(G(z)))``; ``fake_logits [N, 1]`` -> ``[N]``."""
    return F.softplus(-fake_logits).flatten()


def discriminator_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D loss ``softplus(D(G(z))) + softplus(-D(x))`` per sample pair; ``[N, 1]`` each -> ``[N]``."""
    return (F.softplus(fake_logits) + F.softplus(-real_logits)).flatten()


def r1_penalty(real_img: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """``||grad_x D(x)||^2`` per image (without gamma / 2); ``real_img`` must require grad. -> ``[N]``."""
    (grads,) = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img], create_graph=True)
    return grads.square().sum(dim=[1, 2, 3])  # [N]


def path_lengths(img: torch.Tensor, ws: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``||J_w^T y||`` averaged over the ws (Eq. 4), with ``y ~ N(0, I) / sqrt(H * W)`` drawn from
    ``generator``; ``img [N, C, H, W]`` made from ``ws [N, num_ws, w_dim]``. Differentiable (create_graph)."""
    assert img.ndim == 4 and ws.ndim == 3 and img.shape[0] == ws.shape[0], (img.shape, ws.shape)
    y = torch.randn(img.shape, generator=generator, device=img.device, dtype=img.dtype)
    y = y / math.sqrt(img.shape[2] * img.shape[3])  # [N, C, H, W]
    (grads,) = torch.autograd.grad(outputs=[(img * y).sum()], inputs=[ws], create_graph=True)
    return grads.square().sum(dim=2).mean(dim=1).sqrt()  # [N]


def path_length_penalty(lengths: torch.Tensor, pl_mean: torch.Tensor, pl_weight: float) -> torch.Tensor:
    """``(len - a)^2 * pl_weight`` with the updated running mean ``a`` (a constant); ``[N]`` -> ``[N]``."""
    return (lengths - pl_mean.detach()).square() * pl_weight
