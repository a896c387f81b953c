"""vgg16-tv / vgg16-nv detectors and the two LPIPS backends, under shared seeded random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from sg2eval.detectors import Detector, get_detector
from sg2eval.detectors.lpips import LpipsVgg, NvidiaLpips, PerceptualDistance, get_lpips
from sg2eval.detectors.torchscript import load_torchscript
from sg2eval.errors import Sg2evalError
from sg2eval.weights import UnverifiedWeightsWarning
from tests.helpers.fake_weights import (
    isolate_weight_search,
    write_nvidia_vgg16_torchscript,
    write_vgg16_torchvision,
)

pytestmark = pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")


@pytest.fixture(scope="module")
def vgg_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vgg16_torchvision(tmp_path_factory.mktemp("w") / "vgg16-397923af.pth", seed=1)


@pytest.fixture(scope="module")
def vgg_nv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nvidia_vgg16_torchscript(tmp_path_factory.mktemp("w") / "vgg16.pt", seed=2)


@pytest.fixture(scope="module")
def tv_detector(vgg_pth: Path) -> Detector:
    with pytest.warns(UnverifiedWeightsWarning):
        return get_detector("vgg16-tv", weights=str(vgg_pth))


@pytest.fixture(scope="module")
def lpips_vgg(vgg_pth: Path) -> PerceptualDistance:
    with pytest.warns(UnverifiedWeightsWarning):
        return get_lpips("lpips-vgg", weights=str(vgg_pth))


def images(seed: int, n: int, h: int, w: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, h, w), dtype=np.uint8))


def test_vgg16_tv_equals_torchvision_with_documented_preprocessing(
    vgg_pth: Path, tv_detector: Detector
) -> None:
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    detector = tv_detector
    with torch.device("meta"):  # skip torchvision's random init: the file supplies every weight
        reference = torchvision.models.vgg16(weights=None)
    reference.load_state_dict(torch.load(vgg_pth, weights_only=True), assign=True)
    reference.eval()
    x = images(0, 1, 96, 128)
    with torch.no_grad():
        y = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(224, 224), align_corners=False) / 255
        y = torchvision.transforms.functional.normalize(y, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        expected = torch.relu(
            reference.classifier[:4](torch.flatten(reference.avgpool(reference.features(y)), 1))
        )
    got = detector(x)
    assert got.shape == (1, 4096) and detector.feature_dim == 4096
    assert (got > 0).any() and (got >= 0).all()  # fc2 after its ReLU
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert detector.describe()["detector"] == "vgg16-tv"
    assert "fc2-relu" in detector.preprocess_id


@pytest.mark.slow  # torch-fidelity initializes a full VGG16 at random before loading (~10 s)
def test_vgg16_tv_equals_torch_fidelity_fc2_relu(vgg_pth: Path, tv_detector: Detector) -> None:
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

    theirs = FeatureExtractorVGG16("vgg16", ["fc2_relu"], feature_extractor_weights_path=str(vgg_pth))
    x = images(1, 2, 224, 224)
    torch.testing.assert_close(tv_detector(x), theirs(x)[0], rtol=1e-4, atol=1e-4)


def test_vgg16_nv_called_as_official(vgg_nv: Path) -> None:
    detector = get_detector("vgg16-nv", weights=str(vgg_nv))
    x = images(2, 3, 50, 70)
    expected = load_torchscript(vgg_nv, torch.device("cpu"))(x, return_features=True)
    got = detector(x)
    assert got.shape == (3, 4096)  # not the 1000 logits
    torch.testing.assert_close(got, expected)
    info = detector.describe()
    assert info["detector"] == "vgg16-nv" and info["weights"]["check"] == "no published hash"


def test_vgg16_formats_are_not_interchangeable(vgg_pth: Path, vgg_nv: Path) -> None:
    with pytest.raises(Sg2evalError, match="vgg16-tv"):
        get_detector("vgg16-nv", weights=str(vgg_pth))
    with pytest.raises(Sg2evalError, match="vgg16-nv"):
        get_detector("vgg16-tv", weights=str(vgg_nv))


def lpips_package_model(vgg_pth: Path, monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    """The lpips package's VGG LPIPS with its shipped linear layers and *our* backbone file:
    ``pnet_rand=True`` keeps torchvision from downloading, the trunk is built on the meta device (no random
    init) and then receives the file's ``features.*`` tensors
    under the package's ``net.slice{k}.{i}`` names."""
    import lpips
    import lpips.pretrained_networks as pn

    build = torchvision.models.vgg16

    def meta_vgg16(**kwargs: object) -> torch.nn.Module:
        with torch.device("meta"):
            return build(weights=None)

    monkeypatch.setattr(pn.tv, "vgg16", meta_vgg16)
    model = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    backbone = torch.load(vgg_pth, weights_only=True)
    slices = dict.fromkeys(range(0, 4), 1) | dict.fromkeys(range(4, 9), 2) | dict.fromkeys(range(9, 16), 3)
    slices |= dict.fromkeys(range(16, 23), 4) | dict.fromkeys(range(23, 30), 5)
    state = {
        f"net.slice{slices[int(k.split('.')[1])]}.{k.split('.', 1)[1]}": v
        for k, v in backbone.items()
        if k.startswith("features.")
    }
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    assert not unexpected and not [k for k in missing if k.startswith("net.")]
    return model.eval()


def test_lpips_vgg_equals_lpips_package(
    vgg_pth: Path, lpips_vgg: PerceptualDistance, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = lpips_vgg
    assert isinstance(ours, LpipsVgg)
    theirs = lpips_package_model(vgg_pth, monkeypatch)
    a, b = images(3, 3, 64, 64).float(), images(4, 3, 64, 64).float()
    with torch.no_grad():
        expected = theirs(a / 127.5 - 1, b / 127.5 - 1).flatten()
    got = ours.distance(a, b)
    assert got.shape == (3,) and (got > 0).all()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert torch.equal(ours.distance(a, a), torch.zeros(3))
    # uint8 in [0, 255] means the same as float in [0, 255].
    torch.testing.assert_close(ours.distance(a.to(torch.uint8), b.to(torch.uint8)), got)
    info = ours.describe()
    assert info["lpips"] == "lpips-vgg" and info["input_range"] == [0.0, 255.0]
    assert [w["origin"] for w in info["weights"]] == ["explicit", "lpips wheel"]
    assert not ours.verified and len(ours.weights_sha256) == 64


def test_lpips_vgg_is_differentiable(lpips_vgg: PerceptualDistance) -> None:
    a = images(5, 1, 32, 32).float().requires_grad_(True)
    lpips_vgg.distance(a, images(6, 1, 32, 32).float()).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_nvidia_lpips_mode(vgg_nv: Path) -> None:
    ours = get_lpips("auto", weights=str(vgg_nv))
    assert isinstance(ours, NvidiaLpips) and ours.name == "vgg16-nv"
    a, b = images(7, 2, 32, 32).float(), images(8, 2, 32, 32).float()
    script = load_torchscript(vgg_nv, torch.device("cpu"))
    f = script(torch.cat([a, b]), resize_images=False, return_lpips=True)
    expected = (f[:2] - f[2:]).square().sum(1)
    got = ours.distance(a, b)
    torch.testing.assert_close(got, expected)
    assert (got > 0).all() and torch.equal(ours.distance(a, a), torch.zeros(2))
    assert ours.weights_sha256 == ours.weights[0].sha256


def test_lpips_auto_prefers_present_files(vgg_pth: Path, vgg_nv: Path, tmp_path: Path) -> None:
    hub = tmp_path / "search" / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    with pytest.raises(Sg2evalError, match="vgg16.pt"):
        get_lpips("auto")  # nothing present, offline
    (hub / "vgg16-397923af.pth").symlink_to(vgg_pth)
    # A torchvision file whose hash prefix is not 397923af is skipped, with a warning, when searched for.
    with (
        pytest.warns(UnverifiedWeightsWarning, match="prefix 397923af"),
        pytest.raises(Sg2evalError, match="397923af"),
    ):
        get_lpips("lpips-vgg")
    (hub / "vgg16.pt").symlink_to(vgg_nv)
    assert get_lpips("auto").name == "vgg16-nv"
    with pytest.raises(Sg2evalError, match="unknown perceptual distance .alex."):
        get_lpips("alex")


def test_lpips_rejects_mismatched_batches(vgg_nv: Path) -> None:
    with pytest.raises(Sg2evalError, match="equal shape"):
        get_lpips("vgg16-nv", weights=str(vgg_nv)).distance(images(0, 2, 8, 8), images(0, 1, 8, 8))
