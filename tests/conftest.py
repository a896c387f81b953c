"""Shared pytest hooks.

Tests marked ``cuda`` need a CUDA device: on machines without one they are deselected at collection (shown
in pytest's "deselected" count, never as passed or skipped), so a CPU run cannot turn them green.
"""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    needs_gpu = [item for item in items if item.get_closest_marker("cuda") is not None]
    if needs_gpu:
        config.hook.pytest_deselected(items=needs_gpu)
        items[:] = [item for item in items if item.get_closest_marker("cuda") is None]
