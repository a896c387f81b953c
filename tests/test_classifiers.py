"""Attribute classifiers: architecture, training on the shapes dataset, sets, the official TF loader."""

from __future__ import annotations

import json
import math
import pickle
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from sg2eval.classifiers import (
    ClassifierEntry,
    ClassifierSet,
    TrainConfig,
    box_downsample,
    build_attribute_network,
    load_classifier_set,
    load_official_classifier,
    train_classifiers,
    write_manifest,
)
from sg2eval.errors import Sg2evalError

# ---------------------------------------------------------------------------------------------------------
# Official TF pickles, written here in the official layout with seeded random values.


class _Network:
    """Pickles like ``dnnlib.tflib.network.Network``: its state dict is what ``__getstate__`` returns."""

    def __init__(self, state: dict) -> None:
        self._state = state

    def __getstate__(self) -> dict:
        return self._state


def _nf(stage: int, fmap_base: int, fmap_max: int = 512) -> int:
    return min(fmap_base // 2**stage, fmap_max)


def _official_variables(
    resolution: int, fmap_base: int, seed: int, fused: bool = True
) -> dict[str, np.ndarray]:
    """Variables of a ProGAN discriminator without minibatch std, named and shaped as the TF graph."""
    rng = np.random.default_rng(seed)
    log2 = int(math.log2(resolution))
    v: dict[str, np.ndarray] = {}

    def layer(scope: str, shape: tuple[int, ...]) -> None:
        v[f"{scope}/weight"] = rng.standard_normal(shape).astype(np.float32)
        v[f"{scope}/bias"] = (0.1 * rng.standard_normal(shape[-1])).astype(np.float32)

    layer("FromRGB_lod0", (1, 1, 3, _nf(log2 - 1, fmap_base)))
    for res in range(log2, 2, -1):
        scope = f"{2**res}x{2**res}"
        layer(f"{scope}/Conv0", (3, 3, _nf(res - 1, fmap_base), _nf(res - 1, fmap_base)))
        layer(
            f"{scope}/Conv1_down" if fused else f"{scope}/Conv1",
            (3, 3, _nf(res - 1, fmap_base), _nf(res - 2, fmap_base)),
        )
        layer(f"FromRGB_lod{log2 - res + 1}", (1, 1, 3, _nf(res - 2, fmap_base)))  # unused at lod 0
    layer("4x4/Conv", (3, 3, _nf(1, fmap_base), _nf(1, fmap_base)))
    layer("4x4/Dense0", (_nf(1, fmap_base) * 16, _nf(0, fmap_base)))
    layer("4x4/Dense1", (_nf(0, fmap_base), 1))
    v["lod"] = np.float32(0.0)
    return v


def _write_official_pickle(
    path, variables: dict[str, np.ndarray], build_func: str = "D_paper", **static
) -> None:
    module = types.ModuleType("dnnlib.tflib.network")
    _Network.__module__, _Network.__qualname__, _Network.__name__ = (
        "dnnlib.tflib.network",
        "Network",
        "Network",
    )
    module.Network = _Network  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")}
    sys.modules.update(
        {
            "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.tflib": types.ModuleType("dnnlib.tflib"),
            "dnnlib.tflib.network": module,
        }
    )
    try:
        state = {
            "version": 3,
            "name": "D",
            "static_kwargs": {"num_channels": 3, "mbstd_group_size": 0, **static},
            "components": {},
            "build_module_src": "raise RuntimeError('the build source must never run')\n",
            "build_func_name": build_func,
            "variables": list(variables.items()),
        }
        with open(path, "wb") as handle:
            pickle.dump(_Network(state), handle, protocol=2)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _reference_forward(v: dict[str, np.ndarray], img: torch.Tensor, blur: bool) -> torch.Tensor:
    """The TF graph step by step: run-time weight scaling, 'conv then 2x2 average' for the fused layers."""

    def conv(x: torch.Tensor, scope: str, gain: float = math.sqrt(2)) -> torch.Tensor:
        w = torch.from_numpy(v[f"{scope}/weight"]).permute(3, 2, 0, 1)  # [O, I, k, k]
        w = w * gain / math.sqrt(w[0].numel())
        return (
            F.conv2d(x, w, padding=w.shape[-1] // 2)
            + torch.from_numpy(v[f"{scope}/bias"])[None, :, None, None]
        )

    def dense(x: torch.Tensor, scope: str, gain: float = math.sqrt(2)) -> torch.Tensor:
        w = torch.from_numpy(v[f"{scope}/weight"])
        return x @ (w * gain / math.sqrt(w.shape[0])) + torch.from_numpy(v[f"{scope}/bias"])

    act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    x = act(conv(img, "FromRGB_lod0"))
    res = img.shape[-1]
    while res > 4:
        x = act(conv(x, f"{res}x{res}/Conv0"))
        if blur:
            k = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
            x = F.conv2d(x, k[None, None].repeat(x.shape[1], 1, 1, 1), padding=1, groups=x.shape[1])
        if (
            f"{res}x{res}/Conv1_down/weight" in v
        ):  # conv -> average -> bias -> act == the fused 4x4 stride-2 conv
            y = (
                conv(x, f"{res}x{res}/Conv1_down")
                - torch.from_numpy(v[f"{res}x{res}/Conv1_down/bias"])[None, :, None, None]
            )
            x = act(
                F.avg_pool2d(y, 2) + torch.from_numpy(v[f"{res}x{res}/Conv1_down/bias"])[None, :, None, None]
            )
        else:
            x = F.avg_pool2d(act(conv(x, f"{res}x{res}/Conv1")), 2)
        res //= 2
    x = act(conv(x, "4x4/Conv"))
    x = act(dense(x.flatten(1), "4x4/Dense0"))
    return dense(x, "4x4/Dense1", gain=1.0)


@pytest.mark.parametrize(("build_func", "fused"), [("D_paper", True), ("D_paper", False), ("D_basic", True)])
def test_official_classifier_matches_the_tf_graph(tmp_path, build_func: str, fused: bool) -> None:
    variables = _official_variables(32, fmap_base=256, seed=3, fused=fused)
    path = tmp_path / "celebahq-classifier-00-male.pkl"
    _write_official_pickle(path, variables, build_func, resolution=32, fmap_base=256)
    net = load_official_classifier(path)
    img = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = _reference_forward(variables, img, blur=build_func == "D_basic")
    torch.testing.assert_close(net(img), expected, rtol=1e-4, atol=1e-4)
    assert net.resolution == 32 and net(img).shape == (3, 1)


def test_official_loader_refuses_what_it_cannot_reproduce(tmp_path) -> None:
    variables = _official_variables(16, fmap_base=64, seed=1)
    path = tmp_path / "x.pkl"
    _write_official_pickle(path, variables, "G_style")
    with pytest.raises(Sg2evalError, match="D_paper"):
        load_official_classifier(path)
    _write_official_pickle(path, {**variables, "lod": np.float32(1.0)})
    with pytest.raises(Sg2evalError, match="lod"):
        load_official_classifier(path)
    _write_official_pickle(path, variables, mbstd_group_size=4)
    with pytest.raises(Sg2evalError, match="minibatch std"):
        load_official_classifier(path)


def test_folder_of_official_pickles_is_a_classifier_set(tmp_path) -> None:
    for index, name in [(1, "smiling"), (0, "male")]:
        _write_official_pickle(
            tmp_path / f"celebahq-classifier-{index:02d}-{name}.pkl",
            _official_variables(16, fmap_base=64, seed=index),
        )
    with pytest.warns(UserWarning, match="256x256"):
        classifiers = load_classifier_set(tmp_path)
    assert classifiers.names == ["male", "smiling"]
    img = torch.rand(2, 3, 32, 32) * 2 - 1  # box-downsampled to 16 first
    male = load_official_classifier(tmp_path / "celebahq-classifier-00-male.pkl")
    torch.testing.assert_close(classifiers(img)[:, :1], male(F.avg_pool2d(img, 2)))


@pytest.mark.slow
def test_official_size_classifier_256(tmp_path) -> None:
    """The published layout: 256x256 input, fmap_base 8192 (64 channels at 256, 512 from 32 down)."""
    variables = _official_variables(256, fmap_base=8192, seed=0)
    assert variables["FromRGB_lod0/weight"].shape == (1, 1, 3, 64)
    assert variables["4x4/Dense0/weight"].shape == (8192, 512)
    path = tmp_path / "celebahq-classifier-19-eyeglasses.pkl"
    _write_official_pickle(path, variables, resolution=256, fmap_base=8192)
    img = torch.rand(1, 3, 256, 256) * 2 - 1
    torch.testing.assert_close(
        load_official_classifier(path)(img), _reference_forward(variables, img, False), rtol=1e-3, atol=1e-3
    )


# ---------------------------------------------------------------------------------------------------------
# Our networks, sets and training.


def test_attribute_network_is_a_discriminator_without_minibatch_std() -> None:
    net = build_attribute_network(16, out_features=3, channel_base=64, channel_max=32)
    assert net.config.mbstd_group_size == 0 and net.config.out_features == 3
    assert not any(
        "mbstd" in name for name, _ in net.named_modules() if _ is not None and name.endswith("mbstd")
    )
    x = torch.randn(5, 3, 16, 16)
    out = net(x)
    assert out.shape == (5, 3)
    torch.testing.assert_close(net(x[:1]), out[:1], rtol=1e-5, atol=1e-5)  # no cross-sample statistics


def test_box_downsample() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    torch.testing.assert_close(box_downsample(x, 4), F.avg_pool2d(x, 2))
    torch.testing.assert_close(box_downsample(x, 8), x)
    with pytest.raises(Sg2evalError, match="multiple"):
        box_downsample(x, 3)
    with pytest.raises(Sg2evalError):
        box_downsample(x, 16)


def test_manifest_roundtrip_with_shared_multi_head_file(tmp_path) -> None:
    from sg2model import save_network

    torch.manual_seed(0)
    net = build_attribute_network(8, out_features=2, channel_base=32, channel_max=16)
    save_network(tmp_path / "all.sg2", D=net)
    write_manifest(tmp_path, [ClassifierEntry("b", "all.sg2", 1), ClassifierEntry("a", "all.sg2", 0)], 8)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["attributes"][0]["sha256"] and manifest["input_range"] == [-1, 1]
    classifiers = load_classifier_set(tmp_path)
    assert isinstance(classifiers, ClassifierSet) and classifiers.names == ["b", "a"]
    x = torch.rand(4, 3, 8, 8) * 2 - 1
    torch.testing.assert_close(classifiers(x), net.eval()(x).flip(1))
    with pytest.raises(Sg2evalError, match="classifier set"):
        load_classifier_set(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def shapes_zip(tmp_path_factory):
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes

    path = tmp_path_factory.mktemp("data") / "shapes.zip"
    images, attrs = make_shapes(800, 32, seed=0)
    write_labelled_zip(path, images, attrs, ATTRIBUTES)
    return path


EASY = ("dark_background", "warm_background", "left", "top")


def _train_easy(shapes_zip, folder, total_images: int):
    config = TrainConfig(
        total_images=total_images,
        batch_size=8,
        channel_base=128,
        channel_max=64,
        multi_head=True,
        attributes=EASY,
        held_out=0.25,
    )
    report = train_classifiers(shapes_zip, folder, config=config)
    assert set(report.accuracy) == set(EASY) and report.num_held_out == 200
    return report


def test_training_reaches_stated_held_out_accuracy_on_shapes(shapes_zip, tmp_path) -> None:
    """Stated: after 2400 images (300 steps of 8, ~20 s on one free core) held-out accuracy >= 0.95 on the
    background attributes and >= 0.7 on the position attributes (chance 0.5; 200 held-out images)."""
    report = _train_easy(shapes_zip, tmp_path / "set", 2400)
    assert report.accuracy["dark_background"] >= 0.95 and report.accuracy["warm_background"] >= 0.95, report
    assert report.accuracy["left"] >= 0.7 and report.accuracy["top"] >= 0.7, report.accuracy
    classifiers = load_classifier_set(tmp_path / "set")
    from sg2datasets.labelled import LabelledDataset

    data = LabelledDataset(shapes_zip)
    x = torch.from_numpy(data.read(range(64))).float() / 127.5 - 1
    labels = data.attributes[list(EASY)].to_numpy()[:64]
    assert ((classifiers(x).numpy() > 0) == (labels > 0)).mean() >= 0.85


@pytest.mark.slow
def test_longer_training_reaches_090_on_all_four(shapes_zip, tmp_path) -> None:
    report = _train_easy(shapes_zip, tmp_path / "set", 9600)
    assert min(report.accuracy.values()) >= 0.9, report.accuracy


def test_per_attribute_training_writes_one_file_each_and_cli(shapes_zip, tmp_path) -> None:
    from sg2eval.cli.main import cli

    out = tmp_path / "cli-set"
    args = [
        "classifiers",
        "train",
        "--data",
        str(shapes_zip),
        "--out",
        str(out),
        "--images",
        "16",
        "--channel-base",
        "64",
        "--channel-max",
        "16",
        "--attributes",
        "left,top",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [a["file"] for a in manifest["attributes"]] == ["00-left.sg2", "01-top.sg2"]
    assert manifest["training"]["total_images"] == 16 and manifest["dataset"]["num_images"] == 800
    assert all(0.0 <= a["held_out_accuracy"] <= 1.0 for a in manifest["attributes"])
    info = CliRunner().invoke(cli, ["classifiers", "info", str(out)])
    assert info.exit_code == 0 and "left" in info.output and "held_out_accuracy" in info.output


# ---------------------------------------------------------------------------------------------------------
# Replacing a set: whole or not at all; files checked against the manifest on load.

TINY = TrainConfig(total_images=8, channel_base=64, channel_max=16, attributes=("left", "top"))


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_interrupted_training_leaves_the_previous_set_intact(shapes_zip, tmp_path, monkeypatch) -> None:
    import os

    from sg2eval.classifiers import train as train_module

    out = tmp_path / "set"
    train_classifiers(shapes_zip, out, config=TINY)
    before = _files(out)
    stale = tmp_path / ".set.killed.tmp"  # what a killed run leaves: a staging folder of an older process
    stale.mkdir()
    (stale / "00-left.sg2").write_bytes(b"half")
    os.utime(stale, (0, 0))
    fit, calls = train_module._fit, []

    def interrupted(*args, **kwargs) -> None:
        calls.append(1)
        if len(calls) == 2:  # the first network is trained and saved, the second never finishes
            raise KeyboardInterrupt
        fit(*args, **kwargs)

    monkeypatch.setattr(train_module, "_fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_classifiers(shapes_zip, out, config=TrainConfig(**{**TINY.__dict__, "seed": 1}))
    assert len(calls) == 2 and _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no staging left, the stale one cleaned
    assert load_classifier_set(out).names == ["left", "top"]
    # A complete run replaces the set whole: files of the old set that the new one lacks go with it.
    monkeypatch.undo()
    train_classifiers(shapes_zip, out, config=TrainConfig(**{**TINY.__dict__, "attributes": ("left",)}))
    assert sorted(_files(out)) == ["00-left.sg2", "manifest.json"] and _files(out) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_altered_or_mixed_set_is_refused_on_load(shapes_zip, tmp_path) -> None:
    out = tmp_path / "set"
    train_classifiers(shapes_zip, out, config=TINY)
    data = bytearray((out / "01-top.sg2").read_bytes())
    data[-20] ^= 1
    (out / "01-top.sg2").write_bytes(bytes(data))
    with pytest.raises(Sg2evalError, match=r"01-top.sg2 has SHA-256 .* manifest.json records .* mixed"):
        load_classifier_set(out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["attributes"][1]["sha256"] = ""
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Sg2evalError, match="records no sha256 for 01-top.sg2"):
        load_classifier_set(out)


def test_training_refuses_a_folder_that_is_not_a_set(shapes_zip, tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(Sg2evalError, match="holds files but no manifest.json"):
        train_classifiers(shapes_zip, tmp_path / "mine", config=TINY)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
