"""sg2model/core/allocator.py: large CPU tensors come from the heap once reuse_freed_memory() ran."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import sys
    import torch
    from sg2model.core.allocator import reuse_freed_memory

    def maps_of(size):
        with open("/proc/self/maps") as handle:
            spans = [line.split()[0].split("-") for line in handle]
        return sum(int(end, 16) - int(start, 16) >= size for start, end in spans)

    size = 96 * 2**20
    before = maps_of(size)
    held = torch.empty(size // 4)  # float32: one 96 MiB block
    mapped = maps_of(size) - before
    del held
    applied = reuse_freed_memory()
    before = maps_of(size)
    held = torch.empty(size // 4)
    print(mapped, applied, maps_of(size) - before)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_large_tensors_come_from_the_heap_after_reuse_freed_memory() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    mapped, applied, mapped_after = done.stdout.split()
    assert mapped == "1"  # glibc's default: a block this large is a memory map of its own
    assert applied == "True"
    assert mapped_after == "0"  # now served from the heap
