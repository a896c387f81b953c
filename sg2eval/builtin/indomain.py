"""In-domain detectors for the built-in shapes data: a feature network and a perceptual distance.

Inception-v3 and VGG16 were trained on ImageNet photographs; the built-in default network makes 32x32
procedural shapes (``sg2datasets.shapes``). The demo therefore measures it with a small network trained on
that very data, :class:`ShapesFeatureNet`:

- four stages at 32, 16, 8 and 4 pixels, each two 3x3 convolutions with leaky ReLU (slope 0.2), average
  pooling between stages; a global mean over the last stage, one fully connected layer with leaky ReLU
  (the 128-d *penultimate features*) and a linear head;
- the head predicts the dataset's 11 binary attributes (logistic loss) and its 8 continuous nuisances
  (position jitter, size, hue, saturation, value, background tone, stripe phase; squared error), so the
  features encode everything that makes the images differ, not only the attribute bits.

Two detectors are built on it (registered names, usable wherever a detector or LPIPS name is taken):

- ``shapes-features``: the penultimate features ``[N, 128]`` of uint8 images (scaled to [-1, 1]); used for
  the Fréchet distance, KID and precision/recall. Results are labelled **in-domain FD / KID / P&R**, never
  FID: the numbers are not comparable with Inception-based ones.
- ``shapes-lpips``: an LPIPS-like distance without learned linear layers (Zhang et al. 2018, Eq. 1 with all
  weights ``w_l = 1``): the activations of the four stages are unit-normalized along channels, their squared
  differences summed over channels, averaged over positions and summed over the stages. Input: images in
  [0, 255] (NVIDIA's LPIPS convention), any batch size. Labelled **in-domain perceptual distance**, never
  LPIPS; it serves PPL and the projector.

The weights are one safetensors file whose metadata holds the architecture (``channels``, output names).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from sg2eval.detectors.base import Detector
from sg2eval.detectors.lpips import PerceptualDistance
from sg2eval.errors import Sg2evalError
from sg2eval.weights import WeightsFile
from sg2model.core.files import atomic_path, sha256_file

FEATURES_NAME = "shapes-features"
DISTANCE_NAME = "shapes-lpips"
IN_DOMAIN_NAMES = (FEATURES_NAME, DISTANCE_NAME)
FORMAT = "sg2eval-shapes-feature-net"
RESOLUTION = 32
LABELS = {
    "fd": "in-domain FD",
    "kid": "in-domain KID",
    "pr": "in-domain precision/recall",
    "distance": "in-domain perceptual distance",
}


@dataclass(frozen=True)
class FeatureNetConfig:
    """Architecture of :class:`ShapesFeatureNet` (stored in the weight file's metadata)."""

    channels: tuple[int, ...] = (16, 32, 64, 128)  # per stage, at 32, 16, 8, 4 pixels
    feature_dim: int = 128
    outputs: tuple[str, ...] = ()  # names of the head's outputs (attributes, then nuisances)
    num_binary: int = 0  # the first num_binary outputs are logits, the rest regressions


class ShapesFeatureNet(nn.Module):
    """Images [N, 3, 32, 32] in [-1, 1] -> stage activations, penultimate features and head outputs."""

    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = config
        stages, width = [], 3
        for c in config.channels:
            stages.append(nn.Sequential(nn.Conv2d(width, c, 3, padding=1), nn.LeakyReLU(0.2),
                                        nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.2)))
            width = c
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(width, config.feature_dim)
        self.head = nn.Linear(config.feature_dim, len(config.outputs))

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations of every stage: [N, C_k, 32 / 2^k, 32 / 2^k]."""
        out = []
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else F.avg_pool2d(x, 2))
            out.append(x)
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, feature_dim]."""
        return F.leaky_relu(self.fc(self.taps(x)[-1].mean(dim=(2, 3))), 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Head outputs [N, len(outputs)]: attribute logits, then nuisance regressions."""
        return self.head(self.features(x))


def save_feature_net(path: str | os.PathLike[str], net: ShapesFeatureNet, **meta: Any) -> None:
    """Write the weights and architecture as one safetensors file (atomic)."""
    cfg = net.config
    header = {
        "format": FORMAT,
        "config": json.dumps({"channels": list(cfg.channels), "feature_dim": cfg.feature_dim,
                              "outputs": list(cfg.outputs), "num_binary": cfg.num_binary}),
        "meta": json.dumps(meta),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)


def load_feature_net(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> ShapesFeatureNet:
    """Read a file written by :func:`save_feature_net` (no code runs: safetensors only)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (safe_open has no iter)
    except (SafetensorError, OSError) as exc:
        raise Sg2evalError(f"{path} is not a readable safetensors file ({exc}); restore that file") from exc
    if header.get("format") != FORMAT:
        raise Sg2evalError(f"{path} is not a shapes feature network (format {header.get('format')!r})")
    raw = json.loads(header["config"])
    config = FeatureNetConfig(tuple(raw["channels"]), int(raw["feature_dim"]), tuple(raw["outputs"]),
                              int(raw["num_binary"]))
    net = ShapesFeatureNet(config)
    net.load_state_dict(tensors)
    return net.eval().requires_grad_(False).to(device)


def _to_input(images: torch.Tensor, scale: float) -> torch.Tensor:
    """[N, 3, 32, 32] in [0, scale] -> float [-1, 1]; other sizes are refused (the net is 32x32 only)."""
    if tuple(images.shape[-2:]) != (RESOLUTION, RESOLUTION):
        raise Sg2evalError(
            f"the in-domain detectors take {RESOLUTION}x{RESOLUTION} images (the built-in shapes data), got "
            f"{images.shape[-1]}x{images.shape[-2]}; use inception-v3-tf / vgg16 for other data"
        )
    return images.to(torch.float32) * (2.0 / scale) - 1.0


class InDomainFeatures(Detector):
    """``shapes-features``: penultimate features of :class:`ShapesFeatureNet` (see the module docstring)."""

    name = FEATURES_NAME
    preprocess_id = "shapes-features-v1: x/127.5-1, 32x32 only"
    label = LABELS["fd"]

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__(weights, device)
        self.net = load_feature_net(weights.path, self.device)
        self.feature_dim = self.net.config.feature_dim

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(_to_input(images, 255.0))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "label": "in-domain (built-in shapes data); not Inception/VGG16"}


class InDomainDistance(PerceptualDistance):
    """``shapes-lpips``: LPIPS-like distance on unit-normalized stage activations, no learned weights.

    ``distance(img0, img1) -> [N]`` on images ``[N, 3, 32, 32]`` in [0, 255]; differentiable (the projector
    optimizes through it). ``d = sum_k mean_hw || f_k(x0) / |f_k(x0)| - f_k(x1) / |f_k(x1)| ||^2``.
    """

    name = DISTANCE_NAME
    label = LABELS["distance"]

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__((weights,), device)
        self.net = load_feature_net(weights.path, self.device)

    def _distance(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        n = img0.shape[0]
        x = _to_input(torch.cat([img0, img1]), 255.0)  # [2N, 3, 32, 32]
        total = torch.zeros(n, device=self.device)
        for f in self.net.taps(x):
            f = f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)  # unit length per position
            total = total + (f[:n] - f[n:]).square().sum(dim=1).mean(dim=(1, 2))  # [N]
        return total

    def __call__(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        return self.distance(img0, img1)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "label": "in-domain perceptual distance (shapes data); not LPIPS"}


def in_domain_weights(explicit: str | os.PathLike[str] | None = None) -> WeightsFile:
    """The shipped feature-network file (verified against the assets manifest), or an explicit one
    (recorded with its hash, unverified unless the hash matches the shipped one)."""
    from sg2eval.builtin.paths import FEATURES_FILE, asset, expected_sha256

    expected = expected_sha256(FEATURES_FILE)
    path = Path(explicit).expanduser() if explicit is not None else asset(FEATURES_FILE)
    if not path.is_file():
        raise Sg2evalError(f"in-domain weights {path} do not exist; pass the {FEATURES_FILE} file")
    digest = sha256_file(path)
    if explicit is None and digest != expected:
        raise Sg2evalError(
            f"{path} has SHA-256 {digest[:12]}… but the shipped file has {expected[:12]}…; reinstall sg2eval"
        )
    check = "sha256 matches the assets manifest" if digest == expected else "custom file, no known hash"
    origin = "explicit" if explicit is not None else "sg2eval builtin assets"
    return WeightsFile(FEATURES_NAME, path, digest, digest == expected, origin, check)


def in_domain_detector(
    weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> InDomainFeatures:
    """The ``shapes-features`` detector (``get_detector('shapes-features')`` lands here)."""
    return InDomainFeatures(in_domain_weights(weights), device)


def in_domain_distance(
    weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> InDomainDistance:
    """The ``shapes-lpips`` perceptual distance (``get_lpips('shapes-lpips')`` lands here)."""
    return InDomainDistance(in_domain_weights(weights), device)
