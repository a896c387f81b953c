"""inception-v3-tf against torch-fidelity and pytorch-fid under shared random weights; NVIDIA TorchScript
convention; custom detectors; the TF1 resize; TF32 handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sg2eval.detectors import get_detector
from sg2eval.detectors.base import tf1_resize_bilinear
from sg2eval.detectors.inception import InceptionDetector, InceptionV3TF
from sg2eval.detectors.torchscript import load_torchscript
from sg2eval.errors import Sg2evalError
from tests.helpers.fake_weights import (
    isolate_weight_search,
    write_inception_pth,
    write_nvidia_inception_torchscript,
    write_torchscript,
)

pytestmark = pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")


@pytest.fixture(scope="module")
def inception_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inception_pth(tmp_path_factory.mktemp("w") / "pt_inception-2015-12-05-6726825d.pth", seed=0)


@pytest.fixture(scope="module")
def ours(inception_pth: Path) -> InceptionDetector:
    detector = get_detector("inception-v3-tf", weights=str(inception_pth))
    assert isinstance(detector, InceptionDetector)
    return detector


def images(seed: int, n: int, h: int, w: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, h, w), dtype=np.uint8))


def test_state_dict_layout_equals_pytorch_fid(inception_pth: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytorch_fid.inception as pfid

    with torch.device("meta"):
        net = InceptionV3TF()
    ours_keys = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert len(ours_keys) == 566
    assert ours_keys["fc.weight"] == (1008, 2048)
    assert net.Conv2d_1a_3x3.bn.eps == 1e-3
    saved = torch.load(inception_pth, weights_only=True)
    monkeypatch.setattr(pfid, "load_state_dict_from_url", lambda *a, **k: saved)
    theirs = pfid.fid_inception_v3().state_dict()
    assert {k: tuple(v.shape) for k, v in theirs.items()} == ours_keys


@pytest.mark.parametrize("size", [(299, 299), (64, 64), (128, 96)])
def test_features_equal_torch_fidelity(
    ours: InceptionDetector, inception_pth: Path, size: tuple[int, int]
) -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    theirs = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(inception_pth)
    )
    x = images(1, 2, *size)
    expected = theirs(x)[0]
    got = ours(x)
    assert got.shape == (2, 2048) and got.dtype == torch.float32
    assert got.std() > 0.1  # the random network is not degenerate
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_features_equal_pytorch_fid_at_299(
    ours: InceptionDetector, inception_pth: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytorch_fid.inception as pfid

    saved = torch.load(inception_pth, weights_only=True)
    monkeypatch.setattr(pfid, "load_state_dict_from_url", lambda *a, **k: saved)
    theirs = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    x = images(2, 2, 299, 299)
    with torch.no_grad():
        # pytorch-fid takes [0, 1] and maps 2x - 1; x / 256 makes that exactly (x - 128) / 128.
        expected = theirs(x.double().div(256).float())[0].flatten(1)
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("src,dst", [((64, 64), (299, 299)), ((300, 512), (299, 299)), ((17, 9), (5, 31))])
def test_tf1_resize_equals_torch_fidelity(src: tuple[int, int], dst: tuple[int, int]) -> None:
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.rand(2, 3, *src, generator=torch.Generator().manual_seed(0)) * 255
    expected = interpolate_bilinear_2d_like_tensorflow1x(x, size=dst, align_corners=False)
    assert torch.equal(tf1_resize_bilinear(x, *dst), expected)


def test_tf1_resize_is_not_half_pixel() -> None:
    x = torch.arange(4.0).view(1, 1, 1, 4)
    # Output pixel i samples input coordinate i * 4/8 (no half-pixel offset), clamped at the right edge.
    assert tf1_resize_bilinear(x, 1, 8).flatten().tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]
    assert tf1_resize_bilinear(x, 1, 4) is x


def test_grayscale_is_repeated_and_float_is_rejected(ours: InceptionDetector) -> None:
    gray = images(3, 1, 64, 64)[:, :1]
    torch.testing.assert_close(ours(gray), ours(gray.repeat(1, 3, 1, 1)))
    with pytest.raises(Sg2evalError, match="uint8"):
        ours(gray.float())
    with pytest.raises(Sg2evalError, match=r"\[N, 1 or 3, H, W\]"):
        ours(images(3, 1, 8, 8)[0])


def test_provenance(ours: InceptionDetector, inception_pth: Path) -> None:
    info = ours.describe()
    assert info["detector"] == "inception-v3-tf" and info["format"] == "state-dict"
    assert info["preprocess"] == ours.preprocess_id == "tf1-bilinear-299,(x-128)/128"
    assert ours.weights_path == str(inception_pth) and not ours.verified
    assert ours.weights_sha256 is not None and len(ours.weights_sha256) == 64


def test_nvidia_torchscript_is_detected_by_content_and_called_its_way(tmp_path: Path) -> None:
    # Named like a .pth on purpose: the format comes from the bytes, not the name.
    path = write_nvidia_inception_torchscript(tmp_path / "inception.pth", seed=4)
    detector = get_detector("inception-v3-tf", weights=str(path))
    assert detector.describe()["format"] == "torchscript"
    assert detector.weights is not None and detector.weights.check == "no published hash"
    x = images(5, 3, 40, 56)
    script = load_torchscript(path, torch.device("cpu"))
    expected = script(x, return_features=True)
    got = detector(x)
    assert got.shape == (3, 2048) == expected.shape  # logits would be [3, 1008]
    torch.testing.assert_close(got, expected)


def test_wrong_file_for_inception_is_a_clear_error(tmp_path: Path) -> None:
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "vgg.pth")
    with pytest.raises(Sg2evalError, match="pytorch-fid Inception layout"):
        get_detector("inception-v3-tf", weights=str(tmp_path / "vgg.pth"))
    (tmp_path / "net.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(Sg2evalError, match="TF pickles"):
        get_detector("inception-v3-tf", weights=str(tmp_path / "net.pkl"))


def test_missing_inception_weights_offline() -> None:
    with pytest.raises(Sg2evalError, match="pt_inception-2015-12-05-6726825d.pth.*inception-2015-12-05.pt"):
        get_detector("inception-v3-tf")


def test_custom_torchscript_and_callable(tmp_path: Path) -> None:
    class Means(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.float().mean(dim=(2, 3))

    write_torchscript(Means(), tmp_path / "means.pt")
    x = images(6, 2, 16, 16)
    expected = x.float().mean(dim=(2, 3))
    for spec in (f"torchscript:{tmp_path / 'means.pt'}", str(tmp_path / "means.pt")):
        detector = get_detector(spec)
        torch.testing.assert_close(detector(x), expected)
        assert detector.feature_dim == 3 and not detector.verified and detector.weights_sha256
    from_callable = get_detector(lambda imgs: imgs.float().amax(dim=(2, 3)))
    assert from_callable.feature_dim is None
    torch.testing.assert_close(from_callable(x), x.float().amax(dim=(2, 3)))
    assert from_callable.feature_dim == 3 and from_callable.weights_sha256 is None
    with pytest.raises(Sg2evalError, match="returned shape"):
        get_detector(lambda imgs: imgs.float())(x)
    with pytest.raises(Sg2evalError, match="unknown detector"):
        get_detector("resnet50")
    with pytest.raises(Sg2evalError, match="does not exist"):
        get_detector(f"torchscript:{tmp_path / 'missing.pt'}")


def test_tf32_is_off_inside_and_restored() -> None:
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    seen = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
        return x.float().mean(dim=(2, 3))

    try:
        get_detector(spy)(images(7, 1, 4, 4))
        assert seen == [(False, False)]
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
