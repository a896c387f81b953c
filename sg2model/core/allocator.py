"""Large CPU tensors from the heap instead of fresh memory maps (glibc only).

glibc serves every allocation above its mmap threshold (at most 32 MiB on 64-bit) with a new memory map
and unmaps it on free, so each such tensor is zero-filled page by page by the kernel on first touch. At
the projector's batch sizes on the CPU (config F at 256x256, 4 targets: activations of 64 MiB and more)
that page-fault work dominated a step: per target, batch 4 took 3.2x and batch 8 5x the time of batch 1
(docs/performance.md, "Projector"). :func:`reuse_freed_memory` turns the maps off and keeps freed memory
in the process for the next tensor of the same size; the peak memory of a job stays what it was, freed
memory is no longer handed back to the system before the process ends.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters of glibc's <malloc.h>
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # the largest value mallopt takes (an int): trim only above 2 GiB of free top


@functools.cache
def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to keep large freed blocks for reuse (no-op elsewhere); True when it was set.
    Called by the command line and, on the CPU, by feature extraction and the projector; other Python
    callers with large CPU batches may call it themselves."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into this process
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
