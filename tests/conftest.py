"""Shared pytest hooks.

Tests marked ``cuda`` need a CUDA device: on machines without one they are deselected at collection (shown
in pytest's "deselected" count, never as passed or skipped), so a CPU run cannot turn them green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    """One intra-op thread per test process (and its subprocesses): the suite is thousands of small ops
    (gradcheck, tiny networks) for which torch's thread pool costs far more than it gains on a 2-core
    machine; measured 1.7 s vs 249 s for one gradcheck test."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    needs_gpu = [item for item in items if item.get_closest_marker("cuda") is not None]
    if needs_gpu:
        config.hook.pytest_deselected(items=needs_gpu)
        items[:] = [item for item in items if item.get_closest_marker("cuda") is None]


@pytest.fixture(scope="module")
def pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random Inception weight file in pytorch-fid's layout and name, one per test module."""
    from tests.helpers.fake_weights import write_inception_pth

    return write_inception_pth(tmp_path_factory.mktemp("w") / "pt_inception-2015-12-05-6726825d.pth", seed=0)
