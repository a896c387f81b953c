"""VGG16 fc2 features (4096) for precision and recall (Kynkaanniemi et al. 2019, Section 4;
docs/facts.md, "Precision/recall").

Two detectors, which are *not* the same network weights, so results record which one was used:

- ``vgg16-nv``: NVIDIA's TorchScript ``vgg16.pt`` (the file stylegan2-ada-pytorch's ``pr50k3`` uses), called
  as the official metric code does: ``m(images_uint8, return_features=True)``; it resizes to 224 inside.
- ``vgg16-tv``: torchvision's ImageNet ``vgg16-397923af.pth`` with our preprocessing:

  1. TF1-compatible bilinear resize to 224x224 (:func:`~sg2eval.detectors.base.tf1_resize_bilinear`,
     the same resize as our Inception and as torch-fidelity's VGG16 extractor; identity at 224);
  2. ImageNet normalization on the [0, 255] values: ``(x - 255 * mean) / (255 * std)`` with
     mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) (torchvision's training normalization);
  3. ``features -> avgpool -> flatten -> fc1 -> ReLU -> fc2 -> ReLU``: fc2 *after* its ReLU. The paper's
     "fc2" layer is the Keras-style VGG16 layer whose output includes the ReLU, and torch-fidelity's
     precision/recall uses the same ``fc2_relu`` features, so the two agree.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from sg2eval.detectors.base import Detector, tf1_resize_bilinear
from sg2eval.detectors.torchscript import TorchScriptDetector
from sg2eval.errors import Sg2evalError
from sg2eval.weights import WeightsFile, find_weights, load_state_file, sniff_format

INPUT_SIZE = 224
FEATURE_DIM = 4096
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TV_PREPROCESS_ID = "tf1-bilinear-224,imagenet-mean-std,fc2-relu"

if TYPE_CHECKING:
    import torchvision


def torchvision_models() -> Any:
    """``torchvision.models``, imported on first use: only ``vgg16-tv`` and ``lpips-vgg`` need torchvision,
    so a missing one, or one built for another torch ("operator torchvision::nms does not exist"), breaks
    only them, with one line saying what to do."""
    try:
        import torchvision.models
    except (ImportError, RuntimeError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Sg2evalError(
            f"vgg16-tv and lpips-vgg need torchvision, which failed to import ({reason}); install the "
            f"torchvision built for torch {torch.__version__} (tested pairs: README, 'Install'), or use "
            "vgg16-nv"
        ) from error
    return torchvision.models


def load_torchvision_vgg16(path: str) -> torchvision.models.VGG:
    """torchvision's VGG16 with the weights of a ``vgg16-397923af.pth``-layout state dict (strict)."""
    models = torchvision_models()
    state: Any = load_state_file(path, "torchvision VGG16 state dict")
    with torch.device("meta"):
        net = models.vgg16(weights=None)
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise Sg2evalError(
            f"{path} is not a torchvision VGG16 state dict ({str(error).splitlines()[0]}); "
            "pass vgg16-397923af.pth"
        ) from error
    return net.eval().requires_grad_(False)


class Vgg16TorchvisionDetector(Detector):
    """``vgg16-tv``: torchvision VGG16, fc2 after ReLU, with the preprocessing in the module docstring."""

    name = "vgg16-tv"
    feature_dim: int | None = FEATURE_DIM
    preprocess_id = TV_PREPROCESS_ID

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__(weights, device)
        self.net = load_torchvision_vgg16(str(weights.path)).to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = tf1_resize_bilinear(images.to(torch.float32), INPUT_SIZE, INPUT_SIZE)  # [N, 3, 224, 224]
        x = (x - self.mean) / self.std
        x = self.net.avgpool(self.net.features(x)).flatten(1)  # [N, 25088]
        return self.net.classifier[:5](x)  # fc1, ReLU, Dropout (off in eval), fc2, ReLU: [N, 4096]


def vgg16_weights(kind: str, weights: str | os.PathLike[str] | None) -> WeightsFile:
    """Weights for ``vgg16-nv`` (TorchScript) or ``vgg16-tv`` (state dict); an explicit file in the other
    format gets an error that names the right detector."""
    if weights is not None:
        fmt = sniff_format(weights)
        if kind == "vgg16-nv" and fmt != "torchscript":
            raise Sg2evalError(
                f"{weights} is not NVIDIA's TorchScript vgg16.pt; for a torchvision file use vgg16-tv"
            )
        if kind == "vgg16-tv" and fmt == "torchscript":
            raise Sg2evalError(f"{weights} is a TorchScript file; for NVIDIA's vgg16.pt use vgg16-nv")
    return find_weights(kind, explicit=weights)


def vgg16_detector(
    kind: str, weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> Detector:
    """The ``vgg16-nv`` or ``vgg16-tv`` detector."""
    wf = vgg16_weights(kind, weights)
    if kind == "vgg16-tv":
        return Vgg16TorchvisionDetector(wf, device)
    return TorchScriptDetector(
        wf,
        device,
        name="vgg16-nv",
        call_kwargs={"return_features": True},
        feature_dim=FEATURE_DIM,
        preprocess_id="nv-torchscript(resize-224)",
    )
