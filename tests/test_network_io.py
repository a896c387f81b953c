"""Network files: our .sg2 round trip, stylegan2-ada-pytorch pickles (built here in the official layout)
read without running their code, and refusal of malicious pickles."""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from sg2model import Discriminator, Generator, configs, load_network, save_network
from sg2model.core.errors import Sg2Error
from sg2model.core.files import sha256_file
from sg2model.io import detect_format
from sg2model.networks.discriminator import MinibatchStdLayer
from sg2model.networks.layers import FullyConnectedLayer

TINY = {"channel_base": 256, "channel_max": 32}
MAPPING = {"num_layers": 2}


def make_pair(c_dim: int = 0, **g_options: Any) -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    G = Generator(16, c_dim, 16, 16, 3, mapping_kwargs=MAPPING, **TINY, **g_options)
    D = Discriminator(c_dim, 16, 3, architecture="resnet", mapping_kwargs=MAPPING, **TINY)
    with torch.no_grad():  # make noise and w_avg matter
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.3)
        G.mapping.w_avg.normal_()
    return G.eval(), D.eval()


def outputs(G: nn.Module, D: nn.Module, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(5)
    z = torch.randn(4, 16)
    img = G(z, c, truncation_psi=0.7, noise_mode="const")
    square = img if img.shape[2] == img.shape[3] else torch.randn(4, 3, 16, 16)  # cropped G: D sees squares
    return img, D(square, c)


# -------------------------------------------------------------------------------------------- .sg2 format


def test_sg2_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    G, D = make_pair(demodulate=False, img_height=12, architecture="resnet")
    G_ema, _ = make_pair()
    path = save_network(tmp_path / "net.sg2", G=G, D=D, G_ema=G_ema, kimg=123, dataset="shapes")
    assert sorted(os.listdir(tmp_path)) == ["net.sg2"]  # no temporary file left behind
    with open(path, "rb") as handle:
        assert not handle.read(1).startswith(b"\x80")  # not a pickle
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format"] == "sg2model-network"
    bundle = load_network(path)
    assert bundle.source_format == "sg2" and bundle.sha256 == sha256_file(path)
    assert bundle.meta == {"kimg": 123, "dataset": "shapes"}
    assert bundle.generator is bundle.G_ema
    assert isinstance(bundle.G, Generator) and isinstance(bundle.D, Discriminator)
    assert bundle.G.config == G.config and bundle.D.config == D.config
    for new, old in ((bundle.G, G), (bundle.D, D), (bundle.G_ema, G_ema)):
        assert new is not None
        for (name, a), (_, b) in zip(new.state_dict().items(), old.state_dict().items(), strict=True):
            assert torch.equal(a, b), name
    img, logits = outputs(G, D)
    assert img.shape == (4, 3, 12, 16)
    torch.testing.assert_close(outputs(bundle.G, D), (img, logits), rtol=0, atol=0)
    torch.testing.assert_close(outputs(bundle.G_ema, D)[0], outputs(G_ema, D)[0], rtol=0, atol=0)


def test_sg2_save_refuses_bad_input(tmp_path: Path) -> None:
    G, _ = make_pair()
    with pytest.raises(Sg2Error, match="no network"):
        save_network(tmp_path / "a.sg2")
    with pytest.raises(Sg2Error, match="not an sg2model"):
        save_network(tmp_path / "b.sg2", G=nn.Linear(2, 2))
    with pytest.raises(Sg2Error, match="JSON"):
        save_network(tmp_path / "c.sg2", G=G, when=object())
    assert not any(tmp_path.iterdir())


def test_load_refuses_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(Sg2Error, match="does not exist"):
        load_network(tmp_path / "missing.sg2")
    (tmp_path / "noise.bin").write_bytes(os.urandom(64))
    with pytest.raises(Sg2Error, match="neither"):
        load_network(tmp_path / "noise.bin")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(Sg2Error, match="not an sg2model network"):
        load_network(tmp_path / "plain.safetensors")
    (tmp_path / "other.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(Sg2Error, match="neither"):
        load_network(tmp_path / "other.pkl")


# ------------------------------------------------------------------------------- stylegan2-ada pickles


class _FakeModules:
    """Modules ``torch_utils.persistence``, ``dnnlib.util`` and ``training.networks`` as the official code
    has them, so that a pickle written here names the same globals as an official snapshot."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def _reconstruct_persistent_obj(meta: dict[str, Any]) -> Any:
            raise AssertionError("a loader must never call the persistence hook")

        class EasyDict(dict[str, Any]):
            pass

        self.persistence = types.ModuleType("torch_utils.persistence")
        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
        self.persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj  # type: ignore[attr-defined]
        util = types.ModuleType("dnnlib.util")
        EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
        util.EasyDict = EasyDict  # type: ignore[attr-defined]
        self.EasyDict = EasyDict
        self.networks = types.ModuleType("training.networks")
        self.plain: dict[str, type] = {}
        for name in ("FullyConnectedLayer", "MinibatchStdLayer"):  # pickled as plain (non-persistent) objects
            cls = type(name, (), {"__module__": "training.networks"})
            setattr(self.networks, name, cls)
            self.plain[name] = cls
        for name, module in (
            ("torch_utils", types.ModuleType("torch_utils")),
            ("torch_utils.persistence", self.persistence),
            ("dnnlib", types.ModuleType("dnnlib")),
            ("dnnlib.util", util),
            ("training", types.ModuleType("training")),
            ("training.networks", self.networks),
        ):
            monkeypatch.setitem(sys.modules, name, module)


# Our class -> the class name stylegan2-ada-pytorch's training/networks.py gives it.
ADA_CLASS = {
    "SynthesisLayer": "SynthesisLayer",
    "ToRGBLayer": "ToRGBLayer",
    "SynthesisBlock": "SynthesisBlock",
    "SynthesisNetwork": "SynthesisNetwork",
    "MappingNetwork": "MappingNetwork",
    "Generator": "Generator",
    "Conv2dLayer": "Conv2dLayer",
    "DiscriminatorBlock": "DiscriminatorBlock",
    "DiscriminatorEpilogue": "DiscriminatorEpilogue",
    "Discriminator": "Discriminator",
}
MODULE_SRC = "import os\nos.system('echo pwned > {marker}')\n"


def module_state(module: nn.Module) -> dict[str, Any]:
    """The ``__dict__`` parts of an nn.Module that official snapshots carry."""
    return {
        "training": False,
        "_parameters": collections.OrderedDict(module._parameters),
        "_buffers": collections.OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(module._modules),
    }


class AdaPickler(pickle.Pickler):
    """Writes our networks the way stylegan2-ada-pytorch's persistence writes its own."""

    def __init__(
        self,
        file: io.BufferedWriter,
        fakes: _FakeModules,
        init: Mapping[int, tuple[tuple[Any, ...], Any]],
        marker: Path,
    ) -> None:
        super().__init__(file, protocol=4)
        self.fakes = fakes
        self.init = init
        self.marker = marker

    def plain(self, module: nn.Module | None) -> Any:
        """FullyConnectedLayer / MinibatchStdLayer become plain ``training.networks`` objects."""
        if not isinstance(module, (FullyConnectedLayer, MinibatchStdLayer)):
            return module
        proxy: Any = object.__new__(self.fakes.plain[type(module).__name__])
        proxy.__dict__.update(module_state(module), activation=getattr(module, "activation", None))
        return proxy

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, nn.Module):
            return NotImplemented
        args, kwargs = self.init.get(id(obj), ((), {}))
        state = module_state(obj) | {"_init_args": args, "_init_kwargs": kwargs}
        state["_modules"] = collections.OrderedDict((k, self.plain(v)) for k, v in obj._modules.items())
        meta = dict(
            type="class", version=6, module_src=MODULE_SRC.format(marker=self.marker),
            class_name=ADA_CLASS[type(obj).__name__], state=state,
        )  # fmt: skip
        return self.fakes.persistence._reconstruct_persistent_obj, (meta,)


def write_ada_pickle(
    path: Path, fakes: _FakeModules, G: Generator, D: Discriminator, G_ema: Generator
) -> None:
    E = fakes.EasyDict
    synthesis = E(channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=None, fp16_channels_last=False)
    g_kwargs = E(z_dim=16, c_dim=G.c_dim, w_dim=16, img_resolution=16, img_channels=3,
                 mapping_kwargs=E(num_layers=2), synthesis_kwargs=synthesis)  # fmt: skip
    d_args = (D.c_dim, 16, 3)  # positional, as ada's constructor order
    d_kwargs = E(architecture="resnet", channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=None,
                 cmap_dim=None, block_kwargs=E(freeze_layers=0), mapping_kwargs=E(num_layers=2),
                 epilogue_kwargs=E(mbstd_group_size=4))  # fmt: skip
    init = {id(G): ((), g_kwargs), id(G_ema): ((), g_kwargs), id(D): (d_args, d_kwargs)}
    data = dict(G=G, D=D, G_ema=G_ema, augment_pipe=None,
                training_set_kwargs=E(path="ffhq.zip", resolution=16, use_labels=G.c_dim > 0))  # fmt: skip
    with open(path, "wb") as handle:
        AdaPickler(handle, fakes, init, path.with_suffix(".marker")).dump(data)


@pytest.mark.parametrize("c_dim", [0, 3])
def test_ada_pickle_loads_and_reproduces_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_dim: int
) -> None:
    fakes = _FakeModules(monkeypatch)
    G, D = make_pair(c_dim)
    G_ema, _ = make_pair(c_dim)
    with torch.no_grad():
        for param in G_ema.parameters():
            param.add_(0.01)
    path = tmp_path / "network-snapshot-000123.pkl"
    write_ada_pickle(path, fakes, G, D, G_ema)
    for name in ("torch_utils.persistence", "training.networks", "dnnlib.util"):
        monkeypatch.delitem(sys.modules, name)  # the loader must not need the official code
    assert detect_format(path) == "ada-pkl"

    bundle = load_network(path)
    assert bundle.source_format == "ada-pkl" and bundle.sha256 == sha256_file(path)
    assert not path.with_suffix(".marker").exists()  # module_src was never executed
    assert bundle.meta["training_set_kwargs"] == {
        "path": "ffhq.zip",
        "resolution": 16,
        "use_labels": c_dim > 0,
    }
    assert bundle.meta["has_augment_pipe"] is False
    assert isinstance(bundle.G, Generator) and isinstance(bundle.D, Discriminator)
    assert bundle.G.config.mapping.num_layers == 2 and bundle.D.config.mbstd_group_size == 4
    c = torch.eye(3)[[0, 1, 2, 1]] if c_dim else None
    torch.testing.assert_close(outputs(bundle.G, bundle.D, c), outputs(G, D, c), rtol=0, atol=0)
    assert bundle.generator is bundle.G_ema
    torch.testing.assert_close(outputs(bundle.G_ema, D, c)[0], outputs(G_ema, D, c)[0], rtol=0, atol=0)


def test_ada_pickle_with_foreign_layout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = _FakeModules(monkeypatch)
    G, D = make_pair()
    with torch.no_grad():
        G.synthesis.b16.conv1.bias = nn.Parameter(torch.zeros(7))  # type: ignore[union-attr]
    path = tmp_path / "odd.pkl"
    write_ada_pickle(path, fakes, G, D, G)
    with pytest.raises(Sg2Error, match="shape mismatch"):
        load_network(path)


# ------------------------------------------------------------------------------------ malicious pickles


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> Any:
        return os.system, (self.command,)


class _Eval:
    def __reduce__(self) -> Any:
        return eval, ("__import__('os').getcwd()",)


def _persistent_wrapper(payload: Any, fakes: _FakeModules) -> Any:
    class Wrapper:
        def __reduce__(self) -> Any:
            meta = dict(type="class", version=6, module_src="", class_name="Generator", state={"x": payload})
            return fakes.persistence._reconstruct_persistent_obj, (meta,)

    return Wrapper()


class _EvilStorage:
    """A tensor storage whose bytes are a pickle calling os.system (torch.storage._load_from_bytes path)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> Any:
        buffer = io.BytesIO()
        torch.save(_System(self.command), buffer, _use_new_zipfile_serialization=False)
        return torch.storage._load_from_bytes, (buffer.getvalue(),)


@pytest.mark.parametrize("payload", ["system", "eval", "storage"])
def test_malicious_pickles_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str) -> None:
    fakes = _FakeModules(monkeypatch)
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    evil = {"system": _System(command), "eval": _Eval(), "storage": _EvilStorage(command)}[payload]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G": _persistent_wrapper(evil, fakes)}, protocol=4))
    with pytest.raises(Sg2Error) as info:
        load_network(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()
    assert ("refused" if payload == "storage" else "refuses") in str(info.value)


def test_spec_json_round_trip_and_unknown_options() -> None:
    G, D = make_pair(c_dim=2, demodulate=False, img_height=10, conv_clamp=256.0)
    for spec in (G.config, D.config):
        data = json.loads(json.dumps(configs.spec_to_dict(spec)))
        assert configs.spec_from_dict(data) == spec
    data = configs.spec_to_dict(G.config)
    data["synthesis"]["warp_drive"] = True
    with pytest.raises(Sg2Error, match="warp_drive"):
        configs.spec_from_dict(data)
    with pytest.raises(Sg2Error, match="kind"):
        configs.spec_from_dict({"kind": "vae"})
