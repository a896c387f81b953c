"""Crafted hostile network, array and detector files, written opcode by opcode (no code of ours runs on load).

Each writer returns the path of a small file that attacks one loader: pickles that try to modify an allowed
function, to build object arrays over raw bytes or storage-less tensors, files whose few hundred bytes claim
networks or arrays of ~1e12 elements, and broken TorchScript / torch zip archives.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

HUGE = 10**12  # elements a hostile file claims


def op(value: Any) -> bytes:
    """Pickle opcodes pushing ``value`` (None, bool, int, float, str, bytes, tuple, list, dict; no memo)."""
    if value is None:
        return pickle.NONE
    if value is True or value is False:
        return pickle.NEWTRUE if value else pickle.NEWFALSE
    if isinstance(value, int):
        encoded = pickle.encode_long(value)
        return pickle.LONG1 + bytes([len(encoded)]) + encoded
    if isinstance(value, float):
        return pickle.BINFLOAT + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return pickle.BINBYTES + struct.pack("<I", len(value)) + bytes(value)
    if isinstance(value, Raw):
        return value.ops
    if isinstance(value, tuple):
        return pickle.MARK + b"".join(op(v) for v in value) + pickle.TUPLE
    if isinstance(value, list):
        return pickle.EMPTY_LIST + pickle.MARK + b"".join(op(v) for v in value) + pickle.APPENDS
    if isinstance(value, dict):
        items = b"".join(op(k) + op(v) for k, v in value.items())
        return pickle.EMPTY_DICT + pickle.MARK + items + pickle.SETITEMS
    raise TypeError(type(value))


class Raw:
    """Opcodes embedded as they are in a value passed to :func:`op`."""

    def __init__(self, ops: bytes) -> None:
        self.ops = ops


def glob(module: str, name: str) -> Raw:
    return Raw(pickle.GLOBAL + f"{module}\n{name}\n".encode())


def call(func: Raw, *args: Any) -> Raw:
    return Raw(func.ops + op(tuple(args)) + pickle.REDUCE)


def build(target: Raw, state: Any) -> Raw:
    return Raw(target.ops + op(state) + pickle.BUILD)


def stream(value: Any, protocol: int = 3) -> bytes:
    return pickle.PROTO + bytes([protocol]) + op(value) + pickle.STOP


def legacy_storage_bytes(main: Any, keys: list[str], raw: bytes = b"") -> bytes:
    """What ``torch.save(storage, _use_new_zipfile_serialization=False)`` writes, with a chosen main pickle
    (``main``), storage keys and raw storage records."""
    type_sizes = {"short": 2, "int": 4, "long": 4}
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": type_sizes}
    return (
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps(sys_info, protocol=2)
        + stream(main, protocol=2)
        + pickle.dumps(keys, protocol=2)
        + raw
    )


def storage_main(type_name: str, key: str, numel: int) -> Raw:
    """The main pickle of a legacy storage file: ``BINPERSID ('storage', torch.<Type>, key, 'cpu', numel,
    None)``."""
    return Raw(op(("storage", glob("torch", type_name), key, "cpu", numel, None)) + pickle.BINPERSID)


def ada_file(path: Path, network: Any) -> Path:
    """An ada-looking pickle: ``{'G_ema': <network>, 'note': 'torch_utils'}`` (so it is sniffed as ada)."""
    path.write_bytes(stream({"note": "torch_utils", "G_ema": network}))
    return path


def persistent(class_name: str, state: dict[str, Any]) -> Raw:
    meta = {"type": "class", "version": 6, "module_src": "", "class_name": class_name, "state": state}
    return call(glob("torch_utils.persistence", "_reconstruct_persistent_obj"), meta)


def tensor_ops(
    values: bytes, numel: int, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0
) -> Raw:
    """A float32 tensor as a plain ``pickle.dump`` writes it, with chosen storage bytes, size and stride."""
    record = struct.pack("<q", numel) + values
    storage = call(
        glob("torch.storage", "_load_from_bytes"),
        legacy_storage_bytes(storage_main("FloatStorage", "0", numel), ["0"], record),
    )
    hooks = call(glob("collections", "OrderedDict"))
    return call(glob("torch._utils", "_rebuild_tensor_v2"), storage, offset, size, stride, False, hooks)


# ---------------------------------------------------------------------------------------------------------
# Attack 1: modify an allowed function.
def defaults_on_rebuild_function(path: Path) -> Path:
    """BUILD on ``torch._utils._rebuild_tensor_v2`` giving it ``metadata={'neg': True}`` as default."""
    target = glob("torch._utils", "_rebuild_tensor_v2")
    return ada_file(path, build(target, (None, {"__defaults__": ({"neg": True},)})))


def defaults_via_storage_bytes(path: Path) -> Path:
    """The storage bytes (a nested torch file) hand back the real ``_rebuild_tensor_v2``; the outer pickle
    then sets its defaults."""
    nested = legacy_storage_bytes(glob("torch._utils", "_rebuild_tensor_v2"), [])
    real_function = call(glob("torch.storage", "_load_from_bytes"), nested)
    return ada_file(path, build(real_function, (None, {"__defaults__": ({"neg": True},)})))


def torch_function_called_with_file_arguments(path: Path) -> Path:
    """The storage bytes hand back torch's ``_rebuild_wrapper_subclass``, which the outer pickle calls to
    make a tensor without storage of 1e12 elements."""
    def nested_global(module: str, name: str) -> Raw:
        return call(glob("torch.storage", "_load_from_bytes"), legacy_storage_bytes(glob(module, name), []))

    wrapper = nested_global("torch._utils", "_rebuild_wrapper_subclass")
    tensor = call(
        wrapper,
        nested_global("torch", "Tensor"),
        nested_global("torch", "float32"),
        (HUGE,),
        (1,),
        0,
        nested_global("torch", "strided"),
        "cpu",
        False,
    )
    return ada_file(path, persistent("Generator", {"_parameters": {"x": tensor}}))


# Attack 2: arrays over raw bytes.
def tf_network(
    variables: Any, static_kwargs: dict[str, Any] | None = None, func: str = "G_synthesis_stylegan2"
) -> Raw:
    state = {
        "version": 4,
        "name": func,
        "build_module_src": "",
        "build_func_name": func,
        "static_kwargs": static_kwargs or {},
        "components": {},
        "variables": variables,
    }
    cls = glob("dnnlib.tflib.network", "Network")
    return build(Raw(cls.ops + op(()) + pickle.NEWOBJ), state)


def object_array_tf_pickle(path: Path, numpy_module: str = "numpy.core.multiarray") -> Path:
    """A TF pickle whose variable is an object-dtype array over raw bytes (addresses 0x4141...)."""
    empty = call(glob(numpy_module, "_reconstruct"), glob("numpy", "ndarray"), (0,), b"b")
    dtype = build(call(glob("numpy", "dtype"), "O8", False, True), (3, "|", None, None, None, -1, -1, 63))
    array = build(empty, (1, (4,), dtype, False, b"A" * 32))
    path.write_bytes(stream((tf_network([("w", array)]), None, None)))
    return path


def storage_overrun_ada_pickle(path: Path) -> Path:
    """A tensor whose size and stride reach far beyond its 4-element storage."""
    tensor = tensor_ops(b"\0" * 16, 4, (1000, 1000), (1000, 1))
    return ada_file(path, persistent("Generator", {"_parameters": {"x": tensor}}))


# Attack 3: claims of huge sizes in small files.
def huge_sg2(path: Path) -> Path:
    """An ``.sg2`` of no tensors whose config claims a generator with 2**20 channels."""
    spec = {"kind": "generator", "img_resolution": 1024, "z_dim": 1 << 20, "w_dim": 1 << 20}
    metadata = {"format": "sg2model-network", "format_version": "1", "networks": json.dumps({"G": spec})}
    save_file({}, str(path), metadata=metadata)
    return path


def huge_sg2_within_limits(path: Path) -> Path:
    """An ``.sg2`` whose every number is within the limits but whose generator needs ~3e10 weights."""
    spec = {"kind": "generator", "img_resolution": 1024, "z_dim": 1 << 16, "w_dim": 1 << 16}
    metadata = {"format": "sg2model-network", "format_version": "1", "networks": json.dumps({"G": spec})}
    save_file({"G.x": torch.zeros(4)}, str(path), metadata=metadata)
    return path


def sg2_with_metadata(path: Path, **metadata: str) -> Path:
    save_file({"G.x": torch.zeros(1)}, str(path), metadata=metadata)
    return path


def huge_ada_kwargs(path: Path) -> Path:
    """An ada Generator record with no tensors whose kwargs claim 2**20 channels and 1e6 mapping layers."""
    kwargs = {
        "z_dim": 1 << 20,
        "c_dim": 0,
        "w_dim": 1 << 20,
        "img_resolution": 1024,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 10**6},
        "synthesis_kwargs": {"channel_base": 1 << 30, "channel_max": 1 << 20},
    }
    return ada_file(path, persistent("Generator", {"_init_args": (), "_init_kwargs": kwargs}))


def huge_tensor_ada_pickle(path: Path) -> Path:
    """A tensor storage claiming 1e12 elements with 16 bytes of data."""
    tensor = tensor_ops(b"\0" * 16, HUGE, (HUGE,), (1,))
    return ada_file(path, persistent("Generator", {"_parameters": {"x": tensor}}))


def huge_tf_kwargs(path: Path) -> Path:
    """A StyleGAN2 TF G whose kwargs claim resolution 2**20 and 2**20 feature maps, with no variables."""
    kwargs = {"resolution": 1 << 20, "fmap_base": 1 << 30, "fmap_max": 1 << 20, "latent_size": 1 << 20}
    mapping = tf_network([], {"mapping_layers": 10**6, "dlatent_size": 1 << 20}, "G_mapping")
    synthesis = tf_network([], kwargs)
    g_state = {
        "version": 4,
        "name": "G",
        "build_module_src": "",
        "build_func_name": "G_main",
        "static_kwargs": kwargs,
        "components": {"mapping": mapping, "synthesis": synthesis},
        "variables": [],
    }
    cls = glob("dnnlib.tflib.network", "Network")
    g = build(Raw(cls.ops + op(()) + pickle.NEWOBJ), g_state)
    path.write_bytes(stream((g, g, g)))
    return path


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def huge_npy(path: Path, descr: str = "|u1") -> Path:
    """A ``.npy`` whose header claims 1e12 images of 1x1x3 bytes, with 12 bytes of data."""
    path.write_bytes(npy_header((HUGE, 1, 1, 3), descr) + b"\0" * 12)
    return path


def huge_npz(path: Path) -> Path:
    """A stored (uncompressed) ``.npz`` member claiming 1e12 elements."""
    buffer = io.BytesIO()
    data = npy_header((HUGE, 1, 1, 3)) + b"\0" * 12
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("images.npy", data)
    path.write_bytes(buffer.getvalue())
    return path


# Attack 4: broken detector / weight archives.
def broken_torchscript(path: Path) -> Path:
    """A zip with TorchScript's names (``constants.pkl``, ``code/``) and garbage in them."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/constants.pkl", b"\x80\x02garbage")
        archive.writestr("model/code/__torch__.py", "def forward(self, x):\n    return os.system('x')\n")
        archive.writestr("model/data.pkl", stream(glob("os", "system")))
    return path


def hostile_torch_zip(path: Path) -> Path:
    """A ``torch.save`` zip whose ``data.pkl`` calls ``os.system``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", stream(call(glob("os", "system"), "echo pwned")))
        archive.writestr("archive/version", "3\n")
    return path
