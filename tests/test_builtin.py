"""The built-in default's in-domain detectors and shipped assets (sg2eval.builtin, docs/demo.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sg2eval.builtin import paths
from sg2eval.builtin.indomain import (
    FeatureNetConfig,
    InDomainDistance,
    InDomainFeatures,
    ShapesFeatureNet,
    load_feature_net,
    save_feature_net,
)
from sg2eval.errors import Sg2evalError
from sg2model.core.files import sha256_file

NAMES = tuple(f"attr{i}" for i in range(11)) + ("n0", "n1")


def tiny_feature_net(seed: int = 0) -> ShapesFeatureNet:
    torch.manual_seed(seed)
    return ShapesFeatureNet(FeatureNetConfig((4, 8, 8, 16), 16, NAMES, 11))


def make_fake_assets(folder: Path) -> Path:
    """An assets folder of the shipped layout with tiny random networks (seeded) and a 2-image-trained
    classifier set: exercises every code path of the demo in seconds, not its numbers."""
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes
    from sg2eval.classifiers.train import TrainConfig, train_classifiers
    from sg2model import Generator, save_network

    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate((paths.EARLY_NETWORK, paths.FINAL_NETWORK)):
        torch.manual_seed(seed)
        G = Generator.from_config("E", 32, channel_base=128, channel_max=16, z_dim=16, w_dim=16,
                                  mapping_kwargs={"num_layers": 1})
        save_network(folder / name, G_ema=G.eval())
    save_feature_net(folder / paths.FEATURES_FILE, tiny_feature_net())
    images, attributes = make_shapes(16, 32, 0)
    write_labelled_zip(folder.parent / "tiny.zip", images, attributes, ATTRIBUTES, {})
    config = TrainConfig(total_images=8, batch_size=4, channel_base=64, channel_max=8, multi_head=True,
                         held_out=0.25)
    train_classifiers(folder.parent / "tiny.zip", folder / paths.CLASSIFIERS_DIR, config=config)
    paths.write_manifest(folder, {paths.EARLY_NETWORK: {"kimg": 1.0}, paths.FINAL_NETWORK: {"kimg": 2.0}})
    return folder


@pytest.fixture(scope="session")
def fake_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_assets(tmp_path_factory.mktemp("builtin") / "assets")


@pytest.fixture()
def use_fake_assets(fake_assets: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SG2EVAL_BUILTIN_ASSETS", str(fake_assets))
    return fake_assets


def test_feature_net_file_round_trip(tmp_path: Path) -> None:
    net = tiny_feature_net()
    save_feature_net(tmp_path / "f.safetensors", net, note="x")
    back = load_feature_net(tmp_path / "f.safetensors")
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert back.config == net.config
    torch.testing.assert_close(back(x), net.eval()(x))
    assert [t.shape[1:] for t in back.taps(x)] == [(4, 32, 32), (8, 16, 16), (8, 8, 8), (16, 4, 4)]


def test_feature_net_refuses_other_files(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "x"})
    with pytest.raises(Sg2evalError, match="not a shapes feature network"):
        load_feature_net(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(Sg2evalError, match="not a readable safetensors"):
        load_feature_net(tmp_path / "junk.safetensors")


def test_features_detector_by_name_with_hash_and_label(use_fake_assets: Path) -> None:
    from sg2eval.detectors import get_detector

    det = get_detector("shapes-features")
    assert isinstance(det, InDomainFeatures)
    assert det.weights_sha256 == sha256_file(use_fake_assets / paths.FEATURES_FILE)
    assert det.weights_sha256 == paths.expected_sha256(paths.FEATURES_FILE)
    assert det.verified
    info = det.describe()
    assert "in-domain" in info["label"] and info["detector"] == "shapes-features"
    feats = det(torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8))
    assert feats.shape == (5, 16) and feats.dtype == torch.float32
    with pytest.raises(Sg2evalError, match="32x32"):
        det(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_tampered_shipped_weights_are_refused(use_fake_assets: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from sg2eval.builtin.indomain import in_domain_weights

    copy = tmp_path / "assets"
    shutil.copytree(use_fake_assets, copy)
    save_feature_net(copy / paths.FEATURES_FILE, tiny_feature_net(seed=1))  # differs from the manifest
    monkeypatch.setenv("SG2EVAL_BUILTIN_ASSETS", str(copy))
    with pytest.raises(Sg2evalError, match="SHA-256"):
        in_domain_weights()
    explicit = in_domain_weights(copy / paths.FEATURES_FILE)  # an explicit file: recorded, unverified
    assert not explicit.verified and explicit.sha256 == sha256_file(copy / paths.FEATURES_FILE)


def test_distance_by_name_properties(use_fake_assets: Path) -> None:
    from sg2eval.detectors.lpips import get_lpips

    dist = get_lpips("shapes-lpips")
    assert isinstance(dist, InDomainDistance)
    assert dist.verified and "in-domain" in dist.describe()["label"]
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4, 3, 32, 32, generator=g) * 255
    b = torch.rand(4, 3, 32, 32, generator=g) * 255
    d_ab, d_ba, d_aa = dist.distance(a, b), dist.distance(b, a), dist.distance(a, a)
    assert d_ab.shape == (4,) and bool((d_ab > 0).all())
    torch.testing.assert_close(d_ab, d_ba)
    assert float(d_aa.abs().max()) < 1e-6
    # Each stage contributes at most 4 (two unit vectors differ by at most 2 in length).
    assert float(d_ab.max()) <= 4 * 4
    x = b.clone().requires_grad_(True)
    dist.distance(a, x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_fd_with_in_domain_detector_records_it(use_fake_assets: Path) -> None:
    from sg2eval.api import fid

    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8)
    fake = rng.integers(0, 128, (40, 3, 32, 32), dtype=np.uint8)
    result = fid(real, fake, detector="shapes-features", cache=False)
    same = fid(real, real, detector="shapes-features", cache=False)
    assert result.value > same.value >= -1e-6
    detector = result.provenance["detector"]
    assert detector["detector"] == "shapes-features" and detector["verified"]
    assert detector["weights"]["sha256"] == paths.expected_sha256(paths.FEATURES_FILE)
    assert "in-domain" in detector["label"]


def test_train_feature_net_short(tmp_path: Path) -> None:
    from sg2eval.builtin.train_indomain import FeatureTrainConfig, train_feature_net

    config = FeatureTrainConfig(num_images=96, held_out=32, steps=3, batch_size=16, channels=(4, 4, 8, 8),
                                feature_dim=8)
    report = train_feature_net(tmp_path / "f.safetensors", config)
    net = load_feature_net(tmp_path / "f.safetensors")
    assert net.config.num_binary == 11 and len(net.config.outputs) == 19
    assert set(report) >= {"acc.square", "acc.border", "mse.hue"}
    assert all(0 <= report[f"acc.{name}"] <= 1 for name in net.config.outputs[:11])


def test_manifest_lists_files_with_hashes(fake_assets: Path) -> None:
    data = json.loads((fake_assets / paths.MANIFEST).read_text())
    assert data["files"][paths.FINAL_NETWORK]["kimg"] == 2.0
    assert f"{paths.CLASSIFIERS_DIR}/manifest.json" in data["files"]
    for name, entry in data["files"].items():
        assert entry["sha256"] == sha256_file(fake_assets / name)


def test_missing_asset_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG2EVAL_BUILTIN_ASSETS", str(tmp_path))
    with pytest.raises(Sg2evalError, match="missing"):
        paths.asset(paths.FINAL_NETWORK)


def test_shipped_assets_match_their_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    from sg2eval.detectors import get_detector
    from sg2model import load_network

    monkeypatch.delenv("SG2EVAL_BUILTIN_ASSETS", raising=False)
    for name, entry in paths.manifest().items():
        assert sha256_file(paths.ASSETS / name) == entry["sha256"], name
    det = get_detector("shapes-features")
    assert det.verified and det.weights_sha256 == paths.expected_sha256(paths.FEATURES_FILE)
    for name in (paths.EARLY_NETWORK, paths.FINAL_NETWORK):
        G = load_network(paths.ASSETS / name).generator
        assert G.img_resolution == 32 and sum(p.numel() for p in G.parameters()) < 3_000_000


def test_shipped_detectors_recognise_every_attribute_of_fresh_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped feature network's head and the shipped attribute classifiers, on 400 shapes images from a
    seed neither was trained on (3): every attribute, square vs circle included, is recognised."""
    from sg2datasets.shapes import ATTRIBUTES, make_shapes
    from sg2eval.builtin.indomain import load_feature_net
    from sg2eval.classifiers.classifier_set import load_classifier_set

    monkeypatch.delenv("SG2EVAL_BUILTIN_ASSETS", raising=False)
    images, attributes = make_shapes(400, 32, seed=3)
    x = torch.from_numpy(images).float() / 127.5 - 1  # [400, 3, 32, 32]
    truth = torch.from_numpy(attributes)  # [400, 11] bool
    with torch.no_grad():
        head = load_feature_net(paths.asset(paths.FEATURES_FILE))(x)[:, : len(ATTRIBUTES)]
    classifiers = load_classifier_set(paths.asset(paths.CLASSIFIERS_DIR))
    assert list(classifiers.names) == list(ATTRIBUTES)
    logits = classifiers(x)  # [400, 11]
    feature_acc = dict(zip(ATTRIBUTES, ((head > 0) == truth).float().mean(0).tolist(), strict=True))
    classifier_acc = dict(zip(ATTRIBUTES, ((logits > 0) == truth).float().mean(0).tolist(), strict=True))
    assert min(feature_acc.values()) >= 0.97, feature_acc
    assert min(classifier_acc.values()) >= 0.85, classifier_acc
