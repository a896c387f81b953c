"""Seeded random weight files in the official formats, for tests that cannot download the real ones.

Every writer takes ``(path, seed)``, writes the file and returns its path. Same seed, same bytes' values:

- :func:`write_inception_pth`: pytorch-fid / torch-fidelity Inception state dict (566 keys, torchvision
  ``Inception3`` naming, ``fc [1008, 2048]``), He-scaled convs and sane BN statistics (positive variances),
  so features neither vanish nor explode. Loads into ``sg2eval``, pytorch-fid and torch-fidelity alike.
- :func:`write_nvidia_inception_torchscript`: a *small* TorchScript module with the calling convention of
  NVIDIA's ``inception-2015-12-05.pt``: ``m(images, return_features: bool = False, no_output_bias: bool =
  False)``; 2048 features with ``return_features=True``, else the 1008 class probabilities (softmax, the
  output bias left out with ``no_output_bias=True``).
- :func:`write_vgg16_torchvision`: torchvision ``vgg16-397923af.pth`` layout (``features.*``,
  ``classifier.*``; ~553 MB, about 3 s to write).
- :func:`write_nvidia_vgg16_torchscript`: a small TorchScript with the calling convention of NVIDIA's
  ``vgg16.pt``: ``m(images, resize_images: bool = True, return_lpips: bool = False,
  return_features: bool = False)``; 4096 features, LPIPS features ``[N, D]`` (distance = squared difference
  summed over axis 1), or 1000 logits.

:func:`isolate_weight_search` points every weight-search folder at a temporary folder and forbids downloads.
"""

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from sg2eval.detectors.inception import InceptionV3TF


def _he(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """He-uniform values (variance 2 / fan_in); uniform draws are cheaper than normal ones for 138M values."""
    fan_in = math.prod(shape[1:])
    return (torch.rand(shape, generator=gen) * 2 - 1) * math.sqrt(6.0 / fan_in)


def random_inception_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Random values in the pytorch-fid Inception layout (taken from the key/shape list of the model)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        template = InceptionV3TF().state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, meta in template.items():
        shape = meta.shape
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0, dtype=torch.long)
        elif key.endswith("conv.weight") or key == "fc.weight":
            state[key] = _he(shape, gen)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=gen)  # in [0.5, 1.5)
        elif key.endswith("bn.weight"):
            state[key] = 0.8 + 0.4 * torch.rand(shape, generator=gen)
        else:  # bn.bias, running_mean, fc.bias
            state[key] = 0.1 * torch.randn(shape, generator=gen)
    return state


def write_inception_pth(path: str | Path, seed: int) -> Path:
    """Write a seeded random ``pt_inception-2015-12-05-6726825d.pth``-layout state dict."""
    torch.save(random_inception_state_dict(seed), path)
    return Path(path)


def random_vgg16_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Random values in torchvision's VGG16 layout (He-scaled weights, small biases)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        template = torchvision.models.vgg16(weights=None).state_dict()
    return {
        key: _he(meta.shape, gen) if key.endswith("weight") else 0.01 * torch.randn(meta.shape, generator=gen)
        for key, meta in template.items()
    }


def write_vgg16_torchvision(path: str | Path, seed: int) -> Path:
    """Write a seeded random ``vgg16-397923af.pth``-layout state dict."""
    torch.save(random_vgg16_state_dict(seed), path)
    return Path(path)


class FakeNvidiaInception(nn.Module):
    """Stand-in for NVIDIA's Inception TorchScript: scales ``(x - 128) / 128``, pools to 4x4, projects."""

    proj: torch.Tensor
    fc: torch.Tensor
    bias: torch.Tensor

    def __init__(self, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("proj", torch.randn(48, 2048, generator=gen) / math.sqrt(48))
        self.register_buffer("fc", 16 * torch.randn(2048, 1008, generator=gen) / math.sqrt(2048))
        self.register_buffer("bias", 4 * torch.randn(1008, generator=gen))

    def forward(
        self, img: torch.Tensor, return_features: bool = False, no_output_bias: bool = False
    ) -> torch.Tensor:
        x = (img.to(torch.float32) - 128) / 128
        feats = torch.tanh(F.adaptive_avg_pool2d(x, 4).flatten(1) @ self.proj)  # [N, 2048]
        if return_features:
            return feats
        logits = feats @ self.fc if no_output_bias else feats @ self.fc + self.bias  # [N, 1008]
        return logits.softmax(dim=1)  # class probabilities, as NVIDIA's file returns


class FakeNvidiaVgg16(nn.Module):
    """Stand-in for NVIDIA's VGG16 TorchScript with its three output modes."""

    conv: torch.Tensor
    proj: torch.Tensor
    fc: torch.Tensor

    def __init__(self, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("conv", torch.randn(8, 3, 3, 3, generator=gen) / math.sqrt(27))
        self.register_buffer("proj", torch.randn(8 * 16, 4096, generator=gen) / math.sqrt(128))
        self.register_buffer("fc", torch.randn(4096, 1000, generator=gen) / 64)

    def forward(
        self,
        img: torch.Tensor,
        resize_images: bool = True,
        return_lpips: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:
        x = img.to(torch.float32) / 255
        if resize_images:
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        h = F.relu(F.conv2d(x, self.conv, padding=1))  # [N, 8, H, W]
        if return_lpips:
            h = h / (h.square().sum(1, keepdim=True).sqrt() + 1e-10)
            return (h / math.sqrt(h.shape[2] * h.shape[3])).flatten(1)  # [N, 8*H*W]
        feats = F.relu(F.adaptive_avg_pool2d(h, 4).flatten(1) @ self.proj)  # [N, 4096]
        return feats if return_features else feats @ self.fc  # [N, 4096] or [N, 1000]


def write_torchscript(module: nn.Module, path: str | Path) -> Path:
    """Script and save ``module`` (NVIDIA's detectors exist only as TorchScript; torch's deprecation
    warnings about ``torch.jit`` are silenced here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    return Path(path)


class SmallDetector(nn.Module):
    """A 64-feature custom TorchScript detector: keeps FID's 64x64 linear algebra cheap in tests."""

    proj: torch.Tensor

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.register_buffer("proj", torch.randn(48, 64, generator=torch.Generator().manual_seed(seed)))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.adaptive_avg_pool2d(img.float() / 255, 4).flatten(1)  # [N, 48]
        return torch.tanh(x @ self.proj)  # [N, 64]


def write_small_detector(path: str | Path, seed: int) -> Path:
    """A traced :class:`SmallDetector`, for ``--detector torchscript:PATH``."""
    example = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    torch.jit.save(torch.jit.trace(SmallDetector(seed), example), str(path))
    return Path(path)


def write_nvidia_inception_torchscript(path: str | Path, seed: int) -> Path:
    """Write a small TorchScript file called like NVIDIA's ``inception-2015-12-05.pt``."""
    return write_torchscript(FakeNvidiaInception(seed), path)


def write_nvidia_vgg16_torchscript(path: str | Path, seed: int) -> Path:
    """Write a small TorchScript file called like NVIDIA's ``vgg16.pt``."""
    return write_torchscript(FakeNvidiaVgg16(seed), path)


def isolate_weight_search(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """Point every weight-search location at empty folders under ``root`` and forbid the network.

    Sets ``HOME``, ``TORCH_HOME``, ``DNNLIB_CACHE_DIR``, ``SG2EVAL_CACHE`` and clean-fid's temp folder
    below ``root``, removes ``SG2EVAL_WEIGHTS``, sets ``SG2EVAL_OFFLINE=1`` and replaces the downloader with
    one that fails the test. The lpips wheel's own linear weights stay visible. Returns ``root``.
    """
    import sg2eval.weights as weights

    for name in ("home", "torch", "dnnlib", "sg2eval", "tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("DNNLIB_CACHE_DIR", str(root / "dnnlib"))
    monkeypatch.setenv("SG2EVAL_CACHE", str(root / "sg2eval"))
    monkeypatch.delenv("SG2EVAL_WEIGHTS", raising=False)
    monkeypatch.setenv("SG2EVAL_OFFLINE", "1")
    monkeypatch.setattr(weights, "cleanfid_dirs", lambda: [root / "tmp"])

    def no_network(url: str, dest: Path) -> None:
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(weights, "DOWNLOADER", no_network)
    return root
