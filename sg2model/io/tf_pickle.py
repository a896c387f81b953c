"""Read NVIDIA's TensorFlow network pickles without TensorFlow (docs/facts.md, "TF pickles").

An official TF pickle (NVlabs/stylegan, NVlabs/stylegan2, NVlabs/stylegan2-ada) holds a tuple ``(G, D, Gs)``
or, for the CelebA-HQ attribute classifiers, a single network. Each network is an instance of
``dnnlib.tflib.network.Network`` whose pickled state (``Network.__getstate__``) is a dict with ``version``,
``name``, ``static_kwargs``, ``components`` (sub-networks, e.g. ``mapping`` and ``synthesis``; both plain
dicts), ``build_module_src`` (the Python source of the module that builds the graph), ``build_func_name`` and
``variables`` (a list of ``(local_name, value)``: ndarrays, and numpy scalars for 0-d variables such as
``lod`` or ``noise_strength``, as TF's ``session.run`` returns them). Versions: 3 = NVlabs/stylegan,
4 = NVlabs/stylegan2, 5 = NVlabs/stylegan2-ada (adds ``input_shapes``, ``output_shapes``, ``input_names`` and
``output_names``, which are not needed here); 2 is older.

The official loader executes ``build_module_src``. This module never does: the restricted unpickler of
:mod:`sg2model.io.restricted_unpickler` resolves only the network class (to an inert stub that keeps its
state), ``dnnlib.util.EasyDict`` (to a plain dict) and numpy's array/dtype/scalar rebuild functions; any
other global in the stream raises :class:`Sg2Error` before it is called. The result is a tree of
frozen :class:`TFNetworkRecord` objects.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from sg2model.core.errors import Sg2Error
from sg2model.io.restricted_unpickler import NUMPY_GLOBALS, restricted_load, stub_class

NETWORK_CLASS = ("dnnlib.tflib.network", "Network")
SUPPORTED_VERSIONS = (2, 3, 4, 5)


@dataclass(frozen=True)
class TFNetworkRecord:
    """One ``dnnlib.tflib.network.Network`` as plain data (never executable).

    ``variables`` keeps the pickle's order; names are local to this network (``4x4/Conv/weight``).
    ``build_module_sha256`` identifies the (unexecuted) build source.
    """

    version: int
    name: str
    build_func_name: str
    static_kwargs: dict[str, Any]
    components: dict[str, TFNetworkRecord]
    variables: dict[str, np.ndarray]
    build_module_sha256: str = field(default="")

    def all_variables(self) -> dict[str, np.ndarray]:
        """Own variables plus those of the components, prefixed ``<component key>/`` (recursively)."""
        out = dict(self.variables)
        for key, comp in self.components.items():
            out.update({f"{key}/{name}": value for name, value in comp.all_variables().items()})
        return out

    def walk(self) -> Iterator[TFNetworkRecord]:
        """This record and every component below it."""
        yield self
        for comp in self.components.values():
            yield from comp.walk()


@dataclass(frozen=True)
class TFPickle:
    """The networks of one TF pickle: ``G, D, Gs`` (any may be None) and the file's SHA-256."""

    G: TFNetworkRecord | None
    D: TFNetworkRecord | None
    Gs: TFNetworkRecord | None
    sha256: str


class _EasyDict(dict):  # type: ignore[type-arg, unused-ignore]
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access); a plain dict here."""


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to store bytes (latin-1 text)."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise Sg2Error(f"refused _codecs.encode with encoding {encoding!r} in the TF pickle")
    return text.encode("latin1")


_NetworkState = stub_class(*NETWORK_CLASS)
_ALLOWED: dict[tuple[str, str], Any] = {
    **NUMPY_GLOBALS,
    NETWORK_CLASS: _NetworkState,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("_codecs", "encode"): _latin1_bytes,
}


def _as_record(obj: Any, where: str) -> TFNetworkRecord:
    if not isinstance(obj, _NetworkState) or not isinstance(getattr(obj, "state", None), dict):
        raise Sg2Error(f"{where} is {type(obj).__name__}, not a dnnlib.tflib.network.Network")
    state = obj.state
    version = state.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise Sg2Error(f"{where} has Network pickle version {version!r}; supported: {SUPPORTED_VERSIONS}")
    variables: dict[str, np.ndarray] = {}
    for item in state.get("variables", []):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise Sg2Error(f"{where} has a malformed variable entry; expected (name, array) pairs")
        name, value = item
        variables[name] = np.asarray(value)
        if variables[name].dtype.hasobject:
            raise Sg2Error(f"{where} variable {name!r} is not numeric")
    components_raw = state.get("components", {}) or {}
    if not isinstance(components_raw, dict):
        raise Sg2Error(f"{where} has components of type {type(components_raw).__name__}; expected a dict")
    components = {str(k): _as_record(v, f"{where}.components[{k!r}]") for k, v in components_raw.items()}
    source = state.get("build_module_src") or ""
    source_bytes = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else bytes(source)
    return TFNetworkRecord(
        version=int(version),
        name=str(state.get("name")),
        build_func_name=str(state.get("build_func_name")),
        static_kwargs=dict(state.get("static_kwargs") or {}),
        components=components,
        variables=variables,
        build_module_sha256=hashlib.sha256(source_bytes).hexdigest(),
    )


def read_tf_pickle(source: str | os.PathLike[str] | IO[bytes]) -> TFPickle:
    """Load a TF pickle (path or binary file) into records; the network source code is never executed.

    Accepted top levels: a tuple/list ``(G, D, Gs)`` or a single network (stored as ``Gs`` for a
    generator, as ``D`` for discriminators and attribute classifiers).
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            data = handle.read()
    else:
        data = source.read()
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the TF pickle"
    obj = restricted_load(io.BytesIO(data), _ALLOWED, name, encoding="latin1")
    sha256 = hashlib.sha256(data).hexdigest()
    if isinstance(obj, (tuple, list)) and len(obj) == 3:
        g, d, gs = (_as_record(item, name) for item, name in zip(obj, ("G", "D", "Gs"), strict=True))
        return TFPickle(G=g, D=d, Gs=gs, sha256=sha256)
    record = _as_record(obj, "the pickle")
    if record.build_func_name.startswith("D") or record.name.startswith("D"):
        return TFPickle(G=None, D=record, Gs=None, sha256=sha256)
    return TFPickle(G=None, D=None, Gs=record, sha256=sha256)
