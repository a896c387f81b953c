"""Mapping network f: Z -> W, truncation and style mixing.

StyleGAN2 paper Section 2 and StyleGAN (v1) Sections 2-3; docs/facts.md, "Mapping network".

- z (and the embedded label) are normalized by their second moment, concatenated and sent through
  ``num_layers`` equalized-lr dense layers with leaky ReLU and learning-rate multiplier 0.01. With
  ``num_layers = 0`` the normalized input is the output (StyleGAN2-ADA's conditional D with
  ``mapping_layers = 0``: label embedding plus normalization, TF ``D_main`` and ada-pytorch alike).
- ``w_avg`` tracks the mean w with decay ``w_avg_beta`` (0.995) whenever ``update_emas=True`` (training).
- Truncation: ``w' = w_avg + psi * (w - w_avg)``, optionally only for the first ``truncation_cutoff`` ws.
- Style mixing: :func:`mix_styles` takes ws ``[:cutoff]`` from one latent and ``[cutoff:]`` from another.
"""

from __future__ import annotations

import torch
from torch import nn

from sg2model.configs import MappingSpec
from sg2model.core.errors import Sg2Error
from sg2model.networks.layers import FullyConnectedLayer, normalize_2nd_moment


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Truncation trick around ``w_avg``: psi=0 gives ``w_avg``, psi=1 the input; only ``ws[:, :cutoff]``
    are changed when ``cutoff`` is given. ``ws [N, num_ws, w_dim]``, ``w_avg [w_dim]``."""
    assert ws.ndim == 3 and w_avg.shape == ws.shape[2:], (tuple(ws.shape), tuple(w_avg.shape))
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    head = w_avg.lerp(ws[:, :cutoff], psi)  # [N, cutoff, w_dim]
    return torch.cat([head, ws[:, cutoff:]], dim=1)


def mix_styles(ws_a: torch.Tensor, ws_b: torch.Tensor, cutoff: int) -> torch.Tensor:
    """Style mixing regularization (paper Section 2 / StyleGAN v1 Section 3.1): the first ``cutoff`` ws
    come from ``ws_a``, the rest from ``ws_b``. Both ``[N, num_ws, w_dim]``; ``0 <= cutoff <= num_ws``."""
    if ws_a.shape != ws_b.shape or ws_a.ndim != 3:
        raise Sg2Error(
            f"mix_styles needs two [N, num_ws, w_dim] tensors of one shape, got "
            f"{tuple(ws_a.shape)} and {tuple(ws_b.shape)}"
        )
    if not 0 <= cutoff <= ws_a.shape[1]:
        raise Sg2Error(f"style mixing cutoff {cutoff} must lie in 0..{ws_a.shape[1]}")
    return torch.cat([ws_a[:, :cutoff], ws_b[:, cutoff:]], dim=1)


class MappingNetwork(nn.Module):
    """``z [N, z_dim]``, ``c [N, c_dim]`` -> ``ws [N, num_ws, w_dim]`` (or ``[N, w_dim]`` when num_ws is None,
    as used by the conditional discriminator's label embedding)."""

    w_avg: torch.Tensor  # buffer [w_dim], present when num_ws and w_avg_beta are set

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, spec: MappingSpec) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = spec.num_layers
        self.w_avg_beta = spec.w_avg_beta
        embed_features = 0 if c_dim == 0 else (spec.embed_features or w_dim)
        layer_features = w_dim if spec.layer_features is None else spec.layer_features
        if z_dim + embed_features == 0:
            raise Sg2Error("the mapping network needs z_dim > 0 or c_dim > 0")
        if spec.num_layers == 0 and z_dim + embed_features != w_dim:
            raise Sg2Error(
                f"a mapping network without layers outputs its normalized input ({z_dim + embed_features} "
                f"features), which must equal w_dim {w_dim}; set embed_features or num_layers"
            )
        features = [z_dim + embed_features] + [layer_features] * (spec.num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(spec.num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation=spec.activation, lr_multiplier=spec.lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and spec.w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise Sg2Error(
                    f"z must have shape [N, {self.z_dim}], got {None if z is None else tuple(z.shape)}"
                )
            parts.append(normalize_2nd_moment(z.to(torch.float32)))  # [N, z_dim]
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise Sg2Error(
                    f"labels c must have shape [N, {self.c_dim}], got "
                    f"{None if c is None else tuple(c.shape)}; pass one-hot class labels"
                )
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))  # [N, embed]
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)  # [N, features]
        if update_emas and self.num_ws is not None and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is None:
            return x  # [N, w_dim]
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [N, num_ws, w_dim]
        if truncation_psi != 1:
            if not hasattr(self, "w_avg"):
                raise Sg2Error(
                    "truncation needs a tracked w_avg; this mapping network has w_avg_beta=None"
                )
            ws = truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"
