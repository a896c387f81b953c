"""A whitelist-based unpickler: reads data out of a pickle without running code stored in it.

A pickle names callables (``module.name``) that the loader calls; an ordinary ``pickle.load`` imports and
calls whatever is named, so a file can run ``os.system``. :class:`RestrictedUnpickler` resolves each name
through an explicit table of allowed replacements and refuses every other one with :class:`Sg2Error`.
The replacements check their arguments (numpy: numeric dtypes only, never object arrays, byte counts that
match the shape; torch tensors: :mod:`sg2model.io.pickled_tensors`). Only those replacements can be called
(never an object a call returned), items are added only to lists, dicts and sets, and the BUILD opcode, which
sets an object's state, is allowed only on inert stubs and on checked numpy arrays and dtypes that the
unpickler created, so that no allowed class or function can be modified by a file.
The readers of stylegan2-ada-pytorch pickles (``ada_pickle``) and TF pickles build on it: they map the
foreign network classes to inert :func:`stub_class` records and read the tensors and arrays.
"""

from __future__ import annotations

import collections
import math
import pickle
import struct
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

from sg2model.core.errors import Sg2Error

AllowedGlobals = Mapping[tuple[str, str], Any]


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# Containers that carry no code.
CONTAINER_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
}

# NumPy kinds we rebuild: bool, signed/unsigned integers, floats, complex (never objects, strings or records).
NUMERIC_KINDS = "biufc"


class _NdarrayClass:
    """What ``numpy.ndarray`` resolves to: a marker that only :func:`_reconstruct_array` accepts."""


def _numeric_dtype(dtype: Any, what: str) -> np.dtype[Any]:
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS or dtype.fields or dtype.subdtype:
        raise Sg2Error(
            f"{what} in the pickle has dtype {dtype!r}; sg2model reads plain numeric arrays only"
        )
    return dtype


def _as_bytes(data: Any, what: str) -> bytes:
    if isinstance(data, str):  # a Python 2 string read with encoding='latin1'
        return data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)):
        raise Sg2Error(f"{what} in the pickle holds {type(data).__name__}, not raw bytes")
    return bytes(data)


def _dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype[Any]:
    """Stand-in for ``numpy.dtype(obj, align, copy)``: a numeric type code only, always a fresh copy (the
    pickle's BUILD then sets its byte order on the copy, never on numpy's shared instance)."""
    if not isinstance(obj, str):
        raise Sg2Error(
            f"a numpy dtype in the pickle is built from {type(obj).__name__}; expected a type code"
        )
    try:
        dtype = np.dtype(obj)
    except TypeError as exc:
        raise Sg2Error(f"a numpy dtype in the pickle has unknown type code {obj!r}") from exc
    _numeric_dtype(dtype, "a numpy dtype")
    return np.dtype(obj, bool(align), True)


def _scalar(dtype: Any, data: Any = None) -> Any:
    """Stand-in for ``numpy.core.multiarray.scalar``: a numeric scalar from its raw bytes."""
    raw = _as_bytes(data, "a numpy scalar")
    if len(raw) != _numeric_dtype(dtype, "a numpy scalar").itemsize:
        raise Sg2Error(f"a numpy scalar in the pickle has {len(raw)} bytes for dtype {dtype}")
    return _multiarray.scalar(dtype, raw)


def _reconstruct_array(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """Stand-in for ``numpy.core.multiarray._reconstruct``: an empty ndarray that BUILD fills (checked)."""
    if subtype is not _NdarrayClass:
        raise Sg2Error(
            f"the pickle rebuilds an array of class {subtype!r}; sg2model reads numpy.ndarray only"
        )
    return np.ndarray((0,), np.uint8)


# NumPy arrays, scalars and dtypes, in the spellings of NumPy 1 (``numpy.core``) and 2 (``numpy._core``).
NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    (module, name): value
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name, value in (("_reconstruct", _reconstruct_array), ("scalar", _scalar))
} | {("numpy", "ndarray"): _NdarrayClass, ("numpy", "dtype"): _dtype}
# What the numpy scalars of stylegan2-ada-pytorch layers (``weight_gain = lr / np.sqrt(n)``) need.
NUMPY_SCALAR_GLOBALS: dict[tuple[str, str], Any] = {
    key: value for key, value in NUMPY_GLOBALS.items() if key[1] in ("scalar", "dtype")
}


def _array_state(state: Any) -> tuple[Any, ...]:
    """``ndarray.__setstate__`` argument ``(version, shape, dtype, is_fortran, raw bytes)``, checked."""
    if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[1], tuple)):
        raise Sg2Error("a numpy array in the pickle has a malformed state")
    version, shape, dtype, fortran, data = state
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise Sg2Error(f"a numpy array in the pickle has shape {shape!r}")
    raw = _as_bytes(data, "a numpy array")
    if len(raw) != math.prod(shape) * _numeric_dtype(dtype, "a numpy array").itemsize:
        raise Sg2Error(f"a numpy array in the pickle has {len(raw)} bytes for shape {shape} of {dtype}")
    return (version, shape, dtype, bool(fortran), raw)


def _dtype_state(state: Any) -> tuple[Any, ...]:
    """``dtype.__setstate__`` argument of a plain numeric dtype: ``(3, byte order, None, None, None, -1, -1,
    0)``; anything else (sub-arrays, fields, flags) is refused."""
    if not (
        isinstance(state, tuple)
        and len(state) == 8
        and state[0] == 3
        and state[1] in ("<", ">", "|", "=")
        and state[2:5] == (None, None, None)
        and state[5:] == (-1, -1, 0)
    ):
        raise Sg2Error(
            f"a numpy dtype in the pickle has state {state!r}; sg2model reads plain numeric dtypes"
        )
    return state


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


def _build(unpickler: Any) -> None:
    """The BUILD opcode (set an object's state), allowed on stubs and checked numpy arrays and dtypes only:
    a BUILD on anything else (say an allowed class or function) could overwrite its attributes."""
    stack: list[Any] = unpickler.stack  # the pure-Python unpickler's value stack
    state = stack.pop()
    target = stack[-1]
    if isinstance(target, StubObject):
        target.__setstate__(state)
    elif type(target) is np.ndarray:
        target.__setstate__(_array_state(state))
    elif isinstance(target, np.dtype):
        target.__setstate__(_dtype_state(state))  # type: ignore[attr-defined]
        _numeric_dtype(target, "a numpy dtype")
    else:
        raise Sg2Error(
            f"{unpickler.source} sets the state of a {type(target).__name__} object, which sg2model refuses "
            "(it could change code); load only network files from sources you trust"
        )


_DISPATCH = pickle._Unpickler.dispatch
# Opcode -> where its callable (REDUCE, NEWOBJ, NEWOBJ_EX) or its mutated container (APPEND, SETITEM) sits on
# the stack; APPENDS, SETITEMS and ADDITEMS mutate the object below the last MARK.
_CALLABLE_AT = {pickle.REDUCE[0]: -2, pickle.NEWOBJ[0]: -2, pickle.NEWOBJ_EX[0]: -3}
_CONTAINER_AT = {pickle.APPEND[0]: -2, pickle.SETITEM[0]: -3}
_CONTAINER_BELOW_MARK = (pickle.APPENDS[0], pickle.SETITEMS[0], pickle.ADDITEMS[0])


def _guard_callable(code: int) -> Any:
    def run(unpickler: Any) -> None:
        unpickler.check_callable(unpickler.stack[_CALLABLE_AT[code]])
        _DISPATCH[code](unpickler)

    return run


def _guard_container(code: int) -> Any:
    def run(unpickler: Any) -> None:
        below_mark = code in _CONTAINER_BELOW_MARK
        target = unpickler.metastack[-1][-1] if below_mark else unpickler.stack[_CONTAINER_AT[code]]
        if not isinstance(target, (list, dict, set)):
            raise Sg2Error(
                f"{unpickler.source} adds items to a {type(target).__name__} object, which sg2model refuses"
            )
        _DISPATCH[code](unpickler)

    return run


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python ``pickle`` unpickler that resolves globals only through ``allowed``
    (``(module, name) -> object``), calls only those objects, adds items only to the lists, dicts and sets
    it built and sets object state only through :func:`_build`."""

    dispatch = {
        **_DISPATCH,
        pickle.BUILD[0]: _build,
        **{code: _guard_callable(code) for code in _CALLABLE_AT},
        **{code: _guard_container(code) for code in (*_CONTAINER_AT, *_CONTAINER_BELOW_MARK)},
    }

    def __init__(
        self, file: IO[bytes], allowed: AllowedGlobals, source: str, encoding: str = "ASCII"
    ) -> None:
        super().__init__(file, encoding=encoding)
        self.allowed = allowed
        self.source = source
        self._callables = {id(value) for value in allowed.values()}

    def check_callable(self, obj: Any) -> None:
        """Refuse calling anything but an allowed global (say a function another call returned)."""
        if id(obj) not in self._callables:
            raise Sg2Error(
                f"{self.source} calls a {type(obj).__name__} object that is not an allowed global; "
                "sg2model will not load it"
            )

    def _instantiate(self, klass: Any, args: list[Any]) -> None:  # the INST and OBJ opcodes
        self.check_callable(klass)
        super()._instantiate(klass, args)  # type: ignore[misc]

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
        except Sg2Error as exc:
            raise Sg2Error(f"{self.source}: {exc}" if self.source not in str(exc) else str(exc)) from None
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
            RuntimeError,
            struct.error,
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
