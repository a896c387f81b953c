"""Check a network config read from a file before the network is built, so that a small file cannot make us
allocate gigabytes.

A network file's config (``.sg2`` metadata, ada init kwargs, TF static kwargs) is chosen by whoever wrote the
file. :func:`build_for_file` first holds each number of the spec to generous limits (loops such as the
mapping layers stay short), then builds the network with its weights on the ``meta`` device (shapes only, no
memory) and
refuses it when it needs more weights than the file holds; only then is the real network built.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from sg2model.core.errors import Sg2Error

Spec = TypeVar("Spec")

MAX_RESOLUTION = 1 << 13  # ``img_resolution``, ``img_height``: 8192 (the papers go up to 1024)
MAX_LAYERS = 64  # ``num_layers``, ``mapping_layers``: the papers use 8
MAX_CHANNEL_BASE = 1 << 20  # ``channel_base``: the papers use 16384 and 32768
MAX_NUMBER = 1 << 16  # every other integer: widths, dims, label counts, group sizes
MAX_SEQUENCE = 64  # tuples such as FIR filters
# Weights a network may have beyond the values its file stores (FIR filter buffers TF does not store), and
# the factor by which a conversion may grow the stored values (fused TF kernels gain a row and a column).
SLACK_ELEMENTS = 1 << 16
GROWTH = 2


class _LargeTensorsOnMeta(TorchFunctionMode):
    """Creates tensors of more than :data:`SMALL_TENSOR` elements on the ``meta`` device (shapes, no memory);
    small ones (FIR filters, which layers inspect while they are built) stay real."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        if func in _SHAPE_CONSTRUCTORS and kwargs.get("device") is None and args:
            shape = args[0] if isinstance(args[0], (list, tuple)) else args
            if math.prod(int(n) for n in shape) > SMALL_TENSOR:
                kwargs["device"] = "meta"
        return func(*args, **kwargs)


SMALL_TENSOR = 64
_SHAPE_CONSTRUCTORS = (torch.empty, torch.zeros, torch.ones, torch.full, torch.randn, torch.rand)


def _limit(name: str) -> int:
    if "resolution" in name or name == "img_height":
        return MAX_RESOLUTION
    if name.endswith("layers"):
        return MAX_LAYERS
    if name == "channel_base":
        return MAX_CHANNEL_BASE
    return MAX_NUMBER


def _check_value(where: str, name: str, value: Any) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        check_spec_limits(value, f"{where}.{name}")
        return
    if isinstance(value, int):
        if not 0 <= value <= _limit(name):
            raise Sg2Error(f"{where} has {name}={value}, outside 0..{_limit(name)}; the file is damaged")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Sg2Error(f"{where} has {name}={value}; the file is damaged")
        return
    if isinstance(value, (tuple, list)) and len(value) <= MAX_SEQUENCE:
        for item in value:
            if isinstance(item, (tuple, list)):
                raise Sg2Error(f"{where} has a nested sequence in {name}; the file is damaged")
            _check_value(where, name, item)
        return
    raise Sg2Error(f"{where} has {name} of type {type(value).__name__} ({value!r:.40}); the file is damaged")


def check_spec_limits(spec: Any, where: str) -> None:
    """Every number in the (nested) spec dataclass is finite and, for integers, in ``0..limit``."""
    for field in dataclasses.fields(spec):
        _check_value(where, field.name, getattr(spec, field.name))


def weight_count(builder: Callable[[Spec], nn.Module], spec: Spec, where: str) -> int:
    """Elements of the state dict of ``builder(spec)``, from a build on the meta device (no memory)."""
    check_spec_limits(spec, where)
    try:
        with _LargeTensorsOnMeta():
            probe = builder(spec)
    except (TypeError, ValueError, ZeroDivisionError, RuntimeError, IndexError, KeyError) as exc:
        raise Sg2Error(
            f"{where} describes a network sg2model cannot build ({type(exc).__name__}: {exc})"
        ) from exc
    return sum(tensor.numel() for tensor in probe.state_dict().values())


def build_for_file(
    builder: Callable[[Spec], nn.Module], spec: Spec, stored_elements: int, where: str
) -> nn.Module:
    """``builder(spec)`` once the spec is within limits and the network's weights fit in the
    ``stored_elements`` values the file holds for it."""
    needed = weight_count(builder, spec, where)
    if needed > GROWTH * stored_elements + SLACK_ELEMENTS:
        raise Sg2Error(
            f"{where} describes a network of {needed} weights but the file holds {stored_elements} values "
            "for it; the file is damaged or not what it claims to be"
        )
    return builder(spec)
