"""Torch tensors inside a plain ``pickle.dump`` (stylegan2-ada-pytorch snapshots), rebuilt by our own code.

A pickled tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
and its storage is ``torch.storage._load_from_bytes(b)``, where ``b`` is what ``torch.save(storage,
_use_new_zipfile_serialization=False)`` writes: five pickles (the magic number, protocol 1001, a ``sys_info``
dict, the storage as the persistent id ``('storage', torch.<Type>Storage, key, location, numel, None)`` and
the list of keys) followed, per key, by the element count as little-endian int64 and the raw bytes
(docs/facts.md, "Pickle persistence of stylegan2-ada-pytorch").

None of torch's own loaders or rebuild functions is called with values from the file: the legacy storage file
is parsed here with the restricted unpickler, and a tensor is a strided view of the storage's bytes after its
dtype, size, stride and offset are checked against the storage's real length. A storage is therefore never
larger than the file, and a tensor never has more elements than its storage.
"""

from __future__ import annotations

import collections
import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import torch

from sg2model.core.errors import Sg2Error
from sg2model.io.restricted_unpickler import RestrictedUnpickler

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_DIMS = 8
# torch's legacy storage classes (``torch.FloatStorage`` ...) and what their elements are.
STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


@dataclass(frozen=True)
class StorageType:
    """What ``torch.<Name>Storage`` resolves to in a storage file: an inert marker carrying the dtype."""

    dtype: torch.dtype


@dataclass(frozen=True)
class StorageRecord:
    """One storage read from its bytes: a flat tensor over exactly the bytes the file holds."""

    flat: torch.Tensor  # [numel] of the storage's dtype


@dataclass(frozen=True)
class _PendingStorage:
    """The persistent id of the storage, before its bytes are read."""

    key: str
    dtype: torch.dtype
    numel: int


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _StorageUnpickler(RestrictedUnpickler):
    """The pickles of a legacy storage file: plain data, storage type names and one storage persistent id."""

    def persistent_load(self, pid: Any) -> Any:
        if not (
            isinstance(pid, tuple)
            and len(pid) == 6
            and pid[0] == "storage"
            and isinstance(pid[1], StorageType)
            and isinstance(pid[2], str)
            and isinstance(pid[3], str)
            and _is_count(pid[4])
            and pid[5] is None
        ):
            raise Sg2Error(f"{self.source} has an unexpected storage reference {pid!r:.80}")
        return _PendingStorage(key=pid[2], dtype=pid[1].dtype, numel=pid[4])


_STORAGE_GLOBALS = {("torch", name): StorageType(dtype) for name, dtype in STORAGE_DTYPES.items()}


def _read_pickle(handle: io.BytesIO, source: str) -> Any:
    return _StorageUnpickler(handle, _STORAGE_GLOBALS, source).load()


def load_storage(data: Any) -> StorageRecord:
    """Stand-in for ``torch.storage._load_from_bytes``: the storage in a legacy ``torch.save`` file."""
    source = "a tensor storage in the pickle"
    if not isinstance(data, (bytes, bytearray)):
        raise Sg2Error(f"{source} is a {type(data).__name__}, not the bytes of a torch storage file")
    handle = io.BytesIO(data)
    header = [_read_pickle(handle, source) for _ in range(3)]
    if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL or not isinstance(header[2], dict):
        raise Sg2Error(f"{source} is not a legacy torch storage file (magic number or protocol differ)")
    if header[2].get("little_endian") is not True:
        raise Sg2Error(f"{source} was written on a big-endian machine; sg2model reads little-endian ones")
    pending = _read_pickle(handle, source)
    keys = _read_pickle(handle, source)
    if not isinstance(pending, _PendingStorage) or keys != [pending.key]:
        raise Sg2Error(f"{source} does not hold exactly one storage")
    itemsize = torch.empty(0, dtype=pending.dtype).element_size()
    head = handle.read(8)
    nbytes = pending.numel * itemsize
    available = len(data) - handle.tell()
    if len(head) != 8 or struct.unpack("<q", head)[0] != pending.numel or available != nbytes:
        raise Sg2Error(
            f"{source} claims {pending.numel} elements of {pending.dtype} ({nbytes} bytes) but holds "
            f"{max(available, 0)} bytes; the file is damaged"
        )
    raw = bytearray(data[handle.tell() :])
    if pending.dtype is torch.bool and raw.translate(None, b"\x00\x01"):
        raise Sg2Error(f"{source} holds bool values other than 0 and 1")
    flat = torch.frombuffer(raw, dtype=pending.dtype) if raw else torch.empty(0, dtype=pending.dtype)
    return StorageRecord(flat)


def _hookless(hooks: Any) -> bool:
    return hooks is None or (isinstance(hooks, dict) and not hooks)


def rebuild_tensor(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    metadata: Any = None,
) -> torch.Tensor:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: a view of the storage, checked to lie inside it."""
    if not isinstance(storage, StorageRecord) or not _hookless(backward_hooks) or metadata is not None:
        raise Sg2Error("a tensor in the pickle has no plain storage or carries hooks; sg2model refuses it")
    if not (
        _is_count(storage_offset)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride) <= MAX_DIMS
        and all(_is_count(n) for n in size + stride)
        and isinstance(requires_grad, bool)
    ):
        raise Sg2Error(
            f"a tensor in the pickle has a malformed layout (offset {storage_offset!r:.20}, "
            f"size {size!r:.60}, stride {stride!r:.60})"
        )
    numel = storage.flat.numel()
    elements = math.prod(size)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if elements and (elements > numel or last >= numel):
        raise Sg2Error(
            f"a tensor in the pickle of size {size} (stride {stride}, offset {storage_offset}) reaches "
            f"beyond its storage of {numel} elements; the file is damaged"
        )
    if not elements:
        return torch.empty(size, dtype=storage.flat.dtype)
    return torch.as_strided(storage.flat, size, stride, storage_offset)


def rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> torch.nn.Parameter:
    """Stand-in for ``torch._utils._rebuild_parameter``: a tensor rebuilt above and no hooks."""
    plain = isinstance(data, torch.Tensor) and isinstance(requires_grad, bool)
    if not plain or not _hookless(backward_hooks):
        raise Sg2Error("a parameter in the pickle is not a plain tensor; sg2model will not load it")
    return torch.nn.Parameter(data, requires_grad=requires_grad)


# How torch tensors and parameters appear in a plain ``pickle.dump`` (torch 1.x and 2.x).
TENSOR_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): load_storage,
    ("collections", "OrderedDict"): collections.OrderedDict,  # the (empty) backward hooks
}
