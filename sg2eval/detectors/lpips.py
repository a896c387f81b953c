"""LPIPS perceptual distance (Zhang et al. 2018) as used by PPL (StyleGAN2 Section 3.2) and the projector
(Appendix D), with one API on images in [0, 255] (NVIDIA's convention; docs/facts.md, "Numerical traps",
warns that the range mix-up is the most common LPIPS bug).

Backends, recorded in provenance by ``name``:

- ``vgg16-nv``: NVIDIA's TorchScript ``vgg16.pt`` in LPIPS mode, exactly as stylegan2-ada-pytorch's PPL:
  ``f = m(torch.cat([img0, img1]), resize_images=False, return_lpips=True)``, distance
  ``(f0 - f1).square().sum(1)``, inputs float [0, 255].
- ``lpips-vgg``: the ``lpips`` package's VGG variant (v0.1) computed by our own code: torchvision VGG16
  trunk (``vgg16-397923af.pth``, found through :mod:`sg2eval.weights`, never downloaded by torchvision) and
  the package's linear layers ``lpips/weights/v0.1/vgg.pth``. Inputs are mapped ``x / 127.5 - 1`` to the
  package's [-1, 1], then shifted and scaled per channel (shift (-.030, -.088, -.188), scale (.458, .448,
  .450)); at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 the features are unit-normalized over channels
  (``f / (||f|| + 1e-10)``), the squared difference is weighted by the 1x1 linear layer, averaged over
  space, and the five layers are summed.

``distance`` is differentiable with respect to the images (the projector optimizes through it).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch

from sg2eval.detectors.base import tf32_disabled
from sg2eval.detectors.torchscript import load_torchscript
from sg2eval.detectors.vgg16 import load_torchvision_vgg16, vgg16_weights
from sg2eval.errors import Sg2evalError
from sg2eval.registry import Registry
from sg2eval.weights import WeightsFile, find_weights, load_state_file, locate, sniff_format

#: Indices in torchvision's ``vgg16.features`` of the ReLUs whose outputs LPIPS compares.
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class PerceptualDistance(ABC):
    """``distance(img0, img1) -> [N]`` on float images ``[N, 3, H, W]`` in [0, 255] (uint8 accepted).

    ``name`` is the backend, ``weights`` the files it uses, ``weights_sha256`` one hash identifying them
    (the file's own SHA-256 for one file; the SHA-256 of ``"<sha>:<sha>"`` for two).
    """

    name: str
    input_range = (0.0, 255.0)

    def __init__(self, weights: tuple[WeightsFile, ...], device: str | torch.device) -> None:
        self.weights = weights
        self.device = torch.device(device)

    @property
    def weights_sha256(self) -> str:
        if len(self.weights) == 1:
            return self.weights[0].sha256
        return hashlib.sha256(":".join(w.sha256 for w in self.weights).encode()).hexdigest()

    @property
    def verified(self) -> bool:
        return all(w.verified for w in self.weights)

    def distance(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        if img0.shape != img1.shape or img0.ndim != 4 or img0.shape[1] != 3:
            raise Sg2evalError(
                f"LPIPS takes two image batches of equal shape [N, 3, H, W], got {list(img0.shape)} and "
                f"{list(img1.shape)}"
            )
        x0 = img0.to(self.device, torch.float32)
        x1 = img1.to(self.device, torch.float32)
        with tf32_disabled():
            return self._distance(x0, x1)

    @abstractmethod
    def _distance(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """Distances [N] between float [0, 255] images already on the device."""

    def describe(self) -> dict[str, Any]:
        """Provenance: backend, input range, and each weight file."""
        return {
            "lpips": self.name,
            "input_range": list(self.input_range),
            "weights_sha256": self.weights_sha256,
            "verified": self.verified,
            "weights": [w.describe() for w in self.weights],
        }


class NvidiaLpips(PerceptualDistance):
    """``vgg16-nv``: NVIDIA's ``vgg16.pt`` with ``return_lpips=True``."""

    name = "vgg16-nv"

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__((weights,), device)
        self.script = load_torchscript(weights.path, self.device)

    def _distance(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        feats = self.script(torch.cat([img0, img1]), resize_images=False, return_lpips=True)  # [2N, D]
        f0, f1 = feats.chunk(2)
        return (f0 - f1).square().sum(1)  # [N]


class LpipsVgg(PerceptualDistance):
    """``lpips-vgg``: the lpips package's VGG LPIPS v0.1 (see the module docstring)."""

    name = "lpips-vgg"

    def __init__(
        self, backbone: WeightsFile, linear: WeightsFile, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__((backbone, linear), device)
        trunk = load_torchvision_vgg16(str(backbone.path)).features[: LPIPS_TAPS[-1] + 1]
        self.trunk = trunk.to(self.device)
        lin: Any = load_state_file(linear.path, "lpips v0.1 vgg.pth")
        try:
            self.lin = [lin[f"lin{k}.model.1.weight"].to(self.device) for k in range(len(LPIPS_TAPS))]
        except KeyError as error:
            raise Sg2evalError(f"{linear.path} is not the lpips v0.1 vgg.pth (missing {error})") from error
        for w, c in zip(self.lin, LPIPS_CHANNELS, strict=True):
            if tuple(w.shape) != (1, c, 1, 1):
                raise Sg2evalError(
                    f"{linear.path}: a linear layer has shape {list(w.shape)}, expected [1, {c}, 1, 1]"
                )
        self.shift = torch.tensor(LPIPS_SHIFT, device=self.device).view(1, 3, 1, 1)
        self.scale = torch.tensor(LPIPS_SCALE, device=self.device).view(1, 3, 1, 1)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalized relu{1_2, 2_2, 3_3, 4_3, 5_3} features of ``x`` in [-1, 1]."""
        h = (x - self.shift) / self.scale
        taps = []
        for index, layer in enumerate(self.trunk):
            h = layer(h)
            if index in LPIPS_TAPS:
                norm = h.square().sum(1, keepdim=True).sqrt()  # [N, 1, h, w]
                taps.append(h / (norm + 1e-10))
        return taps

    def _distance(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        n = img0.shape[0]
        taps = self._taps(torch.cat([img0, img1]) / 127.5 - 1)  # [2N, C_k, h_k, w_k] each
        total = torch.zeros(n, device=self.device)
        for f, w in zip(taps, self.lin, strict=True):
            diff = (f[:n] - f[n:]).square()  # [N, C_k, h_k, w_k]
            total = total + torch.nn.functional.conv2d(diff, w).mean(dim=(1, 2, 3))  # [N]
        return total


#: ``factory(weights: str | PathLike | None, device: torch.device | str) -> PerceptualDistance``.
DistanceFactory = Callable[[Any, Any], PerceptualDistance]
DISTANCES: Registry[DistanceFactory] = Registry("perceptual distance", "sg2eval.distances")


def register_distance(name: str, factory: DistanceFactory, *, replace: bool = False) -> None:
    """Make ``get_lpips(name)`` build ``factory(weights, device)`` (other packages: entry points of the
    group ``sg2eval.distances``; the built-in default's ``shapes-lpips`` is one)."""
    DISTANCES.register(name, factory, replace=replace)


def _nvidia_lpips(weights: str | os.PathLike[str] | None, device: torch.device | str) -> PerceptualDistance:
    return NvidiaLpips(vgg16_weights("vgg16-nv", weights), device)


def _lpips_vgg(weights: str | os.PathLike[str] | None, device: torch.device | str) -> PerceptualDistance:
    return LpipsVgg(vgg16_weights("vgg16-tv", weights), find_weights("lpips-vgg-lin", passable=False), device)


register_distance("vgg16-nv", _nvidia_lpips)
register_distance("lpips-vgg", _lpips_vgg)


def auto_backend(weights: str | os.PathLike[str] | None = None) -> str:
    """What ``'auto'`` means: from an explicit file's format, else ``vgg16-nv`` when NVIDIA's file is
    already present (what the official PPL uses), else ``lpips-vgg`` when the torchvision file is present,
    else ``vgg16-nv`` (downloaded)."""
    if weights is not None:
        return "vgg16-nv" if sniff_format(weights) == "torchscript" else "lpips-vgg"
    if locate("vgg16-nv") is None and locate("vgg16-tv") is not None:
        return "lpips-vgg"
    return "vgg16-nv"


def get_lpips(
    name: str = "auto", weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> PerceptualDistance:
    """The perceptual distance ``name`` from :data:`DISTANCES` (``'vgg16-nv'``, ``'lpips-vgg'``, plug-ins) or
    ``'auto'`` (:func:`auto_backend`). ``weights`` is ``vgg16.pt`` for ``vgg16-nv`` and the torchvision
    backbone for ``lpips-vgg``."""
    backend = auto_backend(weights) if name == "auto" else name
    return DISTANCES.get(backend)(weights, device)
