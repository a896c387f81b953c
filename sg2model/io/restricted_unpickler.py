"""A whitelist-based unpickler: reads data out of a pickle without running code stored in it.

A pickle names callables (``module.name``) that the loader calls; an ordinary ``pickle.load`` imports and
calls whatever is named, so a file can run ``os.system``. :class:`RestrictedUnpickler` resolves each name
through an explicit table of allowed replacements and refuses every other one with :class:`Sg2Error`.
The readers of stylegan2-ada-pytorch pickles (``ada_pickle``) and TF pickles build on it: they map the
foreign network classes to inert :func:`stub_class` records and read the tensors and arrays.
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
import torch

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

from sg2model.core.errors import Sg2Error

AllowedGlobals = Mapping[tuple[str, str], Any]


def _load_storage_from_bytes(data: bytes) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes``: the bytes are a ``torch.save`` file, read with
    torch's own weights-only unpickler (no code runs)."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise Sg2Error(
            f"a tensor storage in the pickle is not a plain torch tensor file (torch refused it: "
            f"{_first_line(exc)}); sg2model will not load it"
        ) from exc


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# How torch tensors and parameters appear in a plain ``pickle.dump`` (torch 1.x and 2.x).
TENSOR_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
}

# Containers that carry no code.
CONTAINER_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
}

# NumPy arrays and scalars (TF pickles store variables as ndarrays); both module spellings of NumPy 1 and 2.
NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    (module, name): value
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name, value in (("_reconstruct", _multiarray._reconstruct), ("scalar", _multiarray.scalar))
} | {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class StubObject:
    """An inert stand-in for an object of a class we do not import; its pickled state is kept as is."""

    stub_module: str = ""
    stub_name: str = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<stub {self.stub_module}.{self.stub_name}>"


def stub_class(module: str, name: str) -> type[StubObject]:
    """A fresh :class:`StubObject` subclass recording ``module.name`` (for NEWOBJ + BUILD in a pickle)."""
    return type(name, (StubObject,), {"stub_module": module, "stub_name": name})


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves globals only through ``allowed`` (``(module, name) -> object``)."""

    def __init__(
        self, file: IO[bytes], allowed: AllowedGlobals, source: str, encoding: str = "ASCII"
    ) -> None:
        super().__init__(file, encoding=encoding)
        self.allowed = allowed
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise Sg2Error(
                f"{self.source} refers to {module}.{name}, which sg2model refuses to load (a pickle can run "
                "code through it); load only network files from sources you trust, or convert them"
            ) from None

    def load(self) -> Any:
        """Unpickle; a refused global or a damaged file raises :class:`Sg2Error`."""
        try:
            return super().load()
        except Sg2Error:
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
            RuntimeError,
        ) as exc:
            raise Sg2Error(
                f"{self.source} could not be read ({type(exc).__name__}: {_first_line(exc)})"
            ) from exc

    def persistent_load(self, pid: Any) -> Any:
        raise Sg2Error(
            f"{self.source} uses persistent ids ({pid!r}); it is not a network pickle sg2model reads"
        )


def restricted_load(file: IO[bytes], allowed: AllowedGlobals, source: str, encoding: str = "ASCII") -> Any:
    """Unpickle ``file`` resolving globals only through ``allowed``."""
    return RestrictedUnpickler(file, allowed, source, encoding=encoding).load()
