"""Network files: our .sg2 round trip, stylegan2-ada-pytorch pickles (training snapshots and legacy.py
conversions with the object graph of NVIDIA's code, tests/helpers/nvidia_pickles.py) read without running
their code, and refusal of malicious pickles."""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from sg2model import Discriminator, Generator, configs, load_network, save_network
from sg2model.core.errors import Sg2Error
from sg2model.core.files import sha256_file
from tests.helpers import nvidia_pickles as nvp
from tests.helpers.cli_checks import check_info_convert_fid
from tests.helpers.fake_weights import isolate_weight_search

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
# Files with the object graph of NVIDIA's code (tests/helpers/nvidia_pickles.py): a training snapshot of
# training_loop.py and a legacy.py conversion of a TF pickle, in NumPy 1 and NumPy 2 spellings.

E = nvp.EasyDict
# (G architecture, D architecture, c_dim, num_fp16_res, conv_clamp, augmentation pipe): train.py's
# 'auto' config (fp16, clamp 256, ADA), its 'cifar' config (conditional, D 'orig') and --aug=noaug in fp32.
SNAPSHOTS = {
    "auto": ("skip", "resnet", 0, 4, 256, True),
    "cifar": ("orig", "orig", 3, 4, 256, True),
    "noaug-fp32": ("resnet", "skip", 0, 0, None, False),
}


def snapshot_kwargs(case: str) -> tuple[Any, Any]:
    """G and D constructor kwargs as train.py builds them (EasyDicts) plus training_loop's common kwargs."""
    g_arch, d_arch, c_dim, fp16, clamp, _ = SNAPSHOTS[case]
    synthesis = E(channel_base=256, channel_max=32, num_fp16_res=fp16, conv_clamp=clamp, architecture=g_arch)
    common = dict(c_dim=c_dim, img_resolution=16, img_channels=3)
    g_kwargs = dict(z_dim=16, w_dim=16, mapping_kwargs=E(num_layers=2), synthesis_kwargs=synthesis, **common)
    d_kwargs = dict(block_kwargs=E(), mapping_kwargs=E(), epilogue_kwargs=E(mbstd_group_size=4),
                    channel_base=256, channel_max=32, num_fp16_res=fp16, conv_clamp=clamp,
                    architecture=d_arch, **common)  # fmt: skip
    return g_kwargs, d_kwargs


def snapshot_networks(case: str, seed: int = 0) -> tuple[Generator, Discriminator]:
    """Our networks for a snapshot case, built from their own options (not through the loader's mapping)."""
    g_arch, d_arch, c_dim, fp16, clamp, _ = SNAPSHOTS[case]
    options: dict[str, Any] = dict(channel_base=256, channel_max=32, num_fp16_res=fp16, conv_clamp=clamp)
    torch.manual_seed(seed)
    G = Generator(16, c_dim, 16, 16, 3, mapping_kwargs=MAPPING, architecture=g_arch, **options)
    D = Discriminator(c_dim, 16, 3, architecture=d_arch, mbstd_group_size=4, **options)
    with torch.no_grad():  # trained-like values, so that every tensor matters
        for name, param in [*G.named_parameters(), *D.named_parameters()]:
            if name.endswith(("bias", "noise_strength")):
                param.add_(torch.randn_like(param) * 0.2)
        G.mapping.w_avg.normal_()
    return G.eval(), D.eval()


def network_outputs(G: Any, D: Any, c: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        img = G(z, c, truncation_psi=0.7, noise_mode="const")
        return img, G(z, c, noise_mode="const", fused_modconv=False), D(img, c)


def labels(c_dim: int) -> torch.Tensor | None:
    return torch.eye(c_dim)[[0, 1, 2, 1]] if c_dim else None


@pytest.mark.parametrize("numpy_spelling", nvp.NUMPY_SPELLINGS)
@pytest.mark.parametrize("case", sorted(SNAPSHOTS))
def test_training_snapshot_loads_and_reproduces_outputs(
    tmp_path: Path, case: str, numpy_spelling: str
) -> None:
    """network-snapshot-*.pkl of training_loop.py; 'numpy1' = NVIDIA's published ada-pytorch files."""
    G, D = snapshot_networks(case)
    G_ema, _ = snapshot_networks(case, seed=1)
    g_kwargs, d_kwargs = snapshot_kwargs(case)
    training_set = E(class_name="training.dataset.ImageFolderDataset", path="shapes.zip",
                     use_labels=G.c_dim > 0, max_size=100, xflip=False, resolution=16)  # fmt: skip
    augment = 0.25 if SNAPSHOTS[case][-1] else None
    data = nvp.ada_snapshot(G, D, G_ema, g_kwargs, d_kwargs, training_set, augment_p=augment)
    path = nvp.write_pickle(tmp_path / "network-snapshot-000040.pkl", data, numpy_spelling=numpy_spelling)
    raw = path.read_bytes()
    assert raw[:2] == b"\x80\x04" and b"weight_gain" in raw
    assert (b"numpy.core.multiarray" if numpy_spelling == "numpy1" else b"numpy._core.multiarray") in raw

    bundle = load_network(path)
    assert bundle.source_format == "ada-pkl" and bundle.sha256 == sha256_file(path)
    assert bundle.meta["training_set_kwargs"] == dict(training_set)
    assert bundle.meta["has_augment_pipe"] is (augment is not None)
    if augment is not None:
        assert bundle.meta["augment_pipe"]["class_name"] == "AugmentPipe"
        assert bundle.meta["augment_pipe"]["p"] == pytest.approx(0.25)
        assert bundle.meta["augment_pipe"]["init_kwargs"] == nvp.AUGPIPE_BGC
    assert bundle.G.config == G.config and bundle.D.config == D.config  # type: ignore[union-attr]
    c = labels(G.c_dim)
    torch.testing.assert_close(
        network_outputs(bundle.G, bundle.D, c), network_outputs(G, D, c), rtol=0, atol=0
    )
    torch.testing.assert_close(
        network_outputs(bundle.generator, D, c), network_outputs(G_ema, D, c), rtol=0, atol=0
    )


# legacy.py --source=<StyleGAN2-ADA TF pickle>: TF static kwargs of G_main and D_main (train.py's values).
TF_G = {"num_channels": 3, "resolution": 16, "fmap_base": 64, "latent_size": 16, "dlatent_size": 16,
        "mapping_layers": 2, "num_fp16_res": 4, "conv_clamp": 256}  # fmt: skip
TF_D = {"num_channels": 3, "resolution": 16, "fmap_base": 128, "fmap_max": 32, "num_fp16_res": 4,
        "conv_clamp": 256, "mbstd_group_size": 4}  # fmt: skip


@pytest.mark.parametrize("c_dim", [0, 3])
def test_legacy_conversion_of_a_tf_pickle_loads(tmp_path: Path, c_dim: int) -> None:
    """legacy.py records the D's TF mapping_layers (0: none) even when it builds no mapping (c_dim 0);
    conditional (cifar10.pkl): label embedding plus normalization, no layers."""
    g_kwargs = nvp.legacy_generator_kwargs({**TF_G, "label_size": c_dim})
    d_kwargs = nvp.legacy_discriminator_kwargs({**TF_D, "label_size": c_dim, "architecture": "orig"})
    assert d_kwargs["mapping_kwargs"]["num_layers"] == 0
    torch.manual_seed(3)
    options: dict[str, Any] = dict(num_fp16_res=4, conv_clamp=256)
    G = Generator(16, c_dim, 16, 16, 3, mapping_kwargs=MAPPING, channel_base=128, **options).eval()
    D = Discriminator(c_dim, 16, 3, architecture="orig", channel_base=256, channel_max=32, mbstd_group_size=4,
                      mapping_kwargs={"num_layers": 0, "lr_multiplier": 0.1}, **options).eval()  # fmt: skip
    path = nvp.write_pickle(tmp_path / "converted.pkl", nvp.legacy_conversion(G, D, G, g_kwargs, d_kwargs))
    bundle = load_network(path)
    assert bundle.meta == {"has_augment_pipe": False}
    loaded: Any = bundle.D
    assert hasattr(loaded, "mapping") == (c_dim > 0)
    if c_dim:
        assert loaded.config.mapping.num_layers == 0 and loaded.config.mapping.lr_multiplier == 0.1
    c = labels(c_dim)
    torch.testing.assert_close(
        network_outputs(bundle.G, bundle.D, c), network_outputs(G, D, c), rtol=0, atol=0
    )


def test_ada_pickle_with_foreign_layout_is_refused(tmp_path: Path) -> None:
    G, D = snapshot_networks("noaug-fp32")
    g_kwargs, d_kwargs = snapshot_kwargs("noaug-fp32")
    g_kwargs["synthesis_kwargs"] = E(g_kwargs["synthesis_kwargs"], channel_max=16)  # not what the tensors are
    path = nvp.write_pickle(tmp_path / "odd.pkl", nvp.ada_snapshot(G, D, G, g_kwargs, d_kwargs, None, None))
    with pytest.raises(Sg2Error, match="shape mismatch"):
        load_network(path)


def test_unsupported_persistent_class_is_named(tmp_path: Path) -> None:
    G, D = snapshot_networks("noaug-fp32")
    data = nvp.ada_snapshot(G, D, G, *snapshot_kwargs("noaug-fp32"), None, None)
    data["G_ema"].meta["class_name"] = "StyleGAN3Generator"
    with pytest.raises(Sg2Error, match="'StyleGAN3Generator'") as info:
        load_network(nvp.write_pickle(tmp_path / "other.pkl", data))
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------ malicious pickles


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> Any:
        return os.system, (self.command,)


class _Eval:
    def __reduce__(self) -> Any:
        return eval, ("__import__('os').getcwd()",)


class _EvilStorage:
    """A tensor storage whose bytes are a pickle calling os.system (torch.storage._load_from_bytes path)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> Any:
        buffer = io.BytesIO()
        torch.save(_System(self.command), buffer, _use_new_zipfile_serialization=False)
        return torch.storage._load_from_bytes, (buffer.getvalue(),)


class _ObjectScalar:
    """A numpy 'scalar' of object dtype: numpy would hand back the pickled object itself."""

    def __reduce__(self) -> Any:
        return np.dtype("O").__reduce__()


class _HookedTensor:
    """A tensor rebuilt with a backward hook chosen by the file (an allowed callable)."""

    def __reduce__(self) -> Any:
        func, args = torch.ones(2).__reduce_ex__(2)[:2]
        hooks = collections.OrderedDict([(0, collections.OrderedDict)])
        return func, (*args[:5], hooks)


def _evil_snapshot(payload: Any) -> dict[str, Any]:
    """A snapshot whose G state carries ``payload``."""
    meta = dict(
        type="class", version=6, module_src=nvp.MODULE_SRC, class_name="Generator", state={"x": payload}
    )
    return {"G": nvp._Persistent(meta)}


@pytest.mark.parametrize("payload", ["system", "eval", "storage", "object-dtype", "hooks"])
def test_malicious_pickles_are_refused(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    evil = {
        "system": _System(command),
        "eval": _Eval(),
        "storage": _EvilStorage(command),
        "object-dtype": _ObjectScalar(),
        "hooks": _HookedTensor(),
    }[payload]
    path = nvp.write_pickle(tmp_path / "evil.pkl", _evil_snapshot(evil))
    with pytest.raises(Sg2Error) as info:
        load_network(path)
    message = str(info.value)
    assert "\n" not in message and not marker.exists()
    expected = {"system": "posix.system", "eval": "builtins.eval", "storage": "refuses",
                "object-dtype": "dtype", "hooks": "carries hooks"}[payload]  # fmt: skip
    assert expected in message


def test_build_on_an_allowed_global_is_refused(tmp_path: Path) -> None:
    from sg2model.io.ada_pickle import AdaUnpickler, EasyDict

    before = dict(vars(EasyDict))
    # GLOBAL dnnlib.util.EasyDict, then BUILD with a slot state: what an ordinary unpickler would setattr.
    evil = (b"\x80\x04\x8c\x0bdnnlib.util\x94\x8c\x08EasyDict\x94\x93\x94N}\x94\x8c\x0b__getattr__\x94N"
            b"s\x86\x94b.")  # fmt: skip
    with pytest.raises(Sg2Error, match="sets the state of a type"):
        AdaUnpickler(io.BytesIO(evil), "evil.pkl").load()
    assert dict(vars(EasyDict)) == before


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


@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")
@pytest.mark.parametrize("kind", ["snapshot", "legacy"])
def test_cli_on_a_snapshot_and_a_legacy_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")
    G, D = snapshot_networks("auto")
    if kind == "snapshot":
        data = nvp.ada_snapshot(G, D, G, *snapshot_kwargs("auto"), training_set_kwargs=E(path="x.zip"))
    else:
        g_kwargs = nvp.legacy_generator_kwargs(
            {**TF_G, "fmap_base": 128, "fmap_max": 32, "mapping_layers": 2}
        )
        data = nvp.legacy_conversion(
            G, D, G, g_kwargs, nvp.legacy_discriminator_kwargs({**TF_D, "fmap_max": 32})
        )
    summary = check_info_convert_fid(nvp.write_pickle(tmp_path / f"{kind}.pkl", data), tmp_path)
    assert summary["format"] == "ada-pkl"
