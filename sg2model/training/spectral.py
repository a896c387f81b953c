"""Spectral normalization switches for G and D (paper Table 4, "SN-G" / "SN-D"; Miyato et al. 2018).

The networks keep plain ``weight`` parameters (docs/networks.md, "Extending"); the trainer wraps every layer
weight of at least two dimensions with ``torch.nn.utils.parametrizations.spectral_norm`` (one power
iteration per training forward, on the weight reshaped to ``[out, -1]``), after which the layers' own
equalized-learning-rate gains still apply. Parametrizations rename state-dict entries, so networks are
written to ``.sg2`` files through :func:`plain_copy`, which stores ``original / sigma`` as ``weight``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


def _weighted_modules(net: nn.Module) -> list[nn.Module]:
    out = []
    for module in net.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.ndim >= 2:
            out.append(module)
    return out


def apply_spectral_norm(net: nn.Module) -> nn.Module:
    """Wrap every layer weight (ndim >= 2) of ``net`` in place; returns ``net``."""
    for module in _weighted_modules(net):
        spectral_norm(module, name="weight")
    return net


def has_spectral_norm(net: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in net.modules())


def plain_copy(net: nn.Module) -> nn.Module:
    """``net`` itself when it has no parametrization, else a rebuilt network (``type(net).from_spec``) whose
    weights are ``original / sigma`` with the current power-iteration vectors (no iteration is run)."""
    if not has_spectral_norm(net):
        return net
    was_training = net.training
    net.eval()  # spectral norm runs its power iteration only in training mode
    with torch.no_grad():
        state = {k: v for k, v in net.state_dict().items() if ".parametrizations." not in f".{k}"}
        for name, module in net.named_modules():
            if parametrize.is_parametrized(module, "weight"):
                state[f"{name}.weight" if name else "weight"] = module.weight.detach().clone()
    net.train(was_training)
    out = type(net).from_spec(net.config)  # type: ignore[attr-defined]
    out.load_state_dict(state)
    return out.eval()
