"""The 40 official CelebA-HQ attribute classifiers (``celebahq-classifier-NN-<attribute>.pkl``) without TF.

The files are TensorFlow pickles of ``dnnlib.tflib.network.Network``, read by the restricted unpickler of
:mod:`sg2model.io.tf_pickle` (the build source inside is never executed). The network is the progressive
GAN discriminator (StyleGAN journal paper Sec. 4.2: "the same architecture as the discriminator we use (i.e.,
same as in [Progressive GAN])", minibatch std disabled), fully grown (``lod = 0``), at 256x256. Its graph,
rebuilt here from the variable names and shapes:

- ``FromRGB_lod0``: 1x1 conv, bias, leaky ReLU (alpha 0.2);
- per resolution ``R`` from the input down to 8: ``RxR/Conv0`` 3x3 conv, bias, lrelu; then
  ``RxR/Conv1_down``: 3x3 conv fused with 2x downsampling — the kernel zero-padded by one and the four
  shifted copies averaged into a 4x4 kernel applied with stride 2 (TF 'SAME' padding = 1 on each side) —
  bias, lrelu; or, when the variable is ``RxR/Conv1``, 3x3 conv, bias, lrelu and then 2x2 average pooling
  (ProGAN's non-fused path). ``D_basic`` (StyleGAN v1) first blurs with ``blur_filter`` ([1, 2, 1] unless
  ``static_kwargs`` says otherwise); ``D_paper`` (ProGAN) has no blur;
- ``4x4/Conv`` 3x3, bias, lrelu; ``4x4/Dense0`` (flattened NCHW), bias, lrelu; ``4x4/Dense1`` (gain 1), bias;
  the score is its first column.

Weights are stored as N(0, 1) draws and scaled at run time by ``gain / sqrt(fan_in)`` (gain sqrt(2), 1 for
``Dense1``; equalized learning rate, ``use_wscale``); this module folds the scale into the weights once.
Inputs are images in [-1, 1] at 256x256 (larger generator outputs are box-downsampled first, docs/facts.md,
"Linear separability").
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sg2eval.errors import Sg2evalError

OFFICIAL_INPUT_RESOLUTION = 256
OFFICIAL_ATTRIBUTES: tuple[str, ...] = (
    "male", "smiling", "attractive", "wavy-hair", "young", "5-o-clock-shadow", "arched-eyebrows",
    "bags-under-eyes", "bald", "bangs", "big-lips", "big-nose", "black-hair", "blond-hair", "blurry",
    "brown-hair", "bushy-eyebrows", "chubby", "double-chin", "eyeglasses", "goatee", "gray-hair",
    "heavy-makeup", "high-cheekbones", "mouth-slightly-open", "mustache", "narrow-eyes", "no-beard",
    "oval-face", "pale-skin", "pointy-nose", "receding-hairline", "rosy-cheeks", "sideburns",
    "straight-hair", "wearing-earrings", "wearing-hat", "wearing-lipstick", "wearing-necklace",
    "wearing-necktie",
)  # fmt: skip
OFFICIAL_FILE_PATTERN = re.compile(r"^celebahq-classifier-(\d\d)-(.+)\.pkl$")
BUILD_FUNCTIONS = ("D_paper", "D_basic")
MAX_BLUR_TAPS = 16  # the official files use [1, 2, 1]


def official_file_name(index: int) -> str:
    """``celebahq-classifier-NN-<attribute>.pkl`` for attribute ``index`` (0..39)."""
    return f"celebahq-classifier-{index:02d}-{OFFICIAL_ATTRIBUTES[index]}.pkl"


def _conv_weight(value: np.ndarray, gain: float, use_wscale: bool) -> torch.Tensor:
    """TF conv weight [k, k, I, O] -> torch [O, I, k, k] with the run-time scale folded in."""
    scale = gain / math.sqrt(float(np.prod(value.shape[:-1]))) if use_wscale else 1.0
    return torch.from_numpy(np.ascontiguousarray(value.transpose(3, 2, 0, 1), dtype=np.float32)) * scale


def _fused_down_kernel(weight: torch.Tensor) -> torch.Tensor:
    """3x3 kernel [O, I, 3, 3] -> the 4x4 kernel of 'conv then 2x2 average' applied with stride 2."""
    padded = F.pad(weight, (1, 1, 1, 1))  # [O, I, 5, 5]
    return 0.25 * (padded[..., 1:, 1:] + padded[..., :-1, 1:] + padded[..., 1:, :-1] + padded[..., :-1, :-1])


class OfficialClassifier(nn.Module):
    """A fully grown ProGAN / StyleGAN-v1 discriminator used as an attribute classifier: images -> [N, 1]."""

    blur: torch.Tensor | None

    def __init__(
        self,
        variables: dict[str, np.ndarray],
        use_wscale: bool = True,
        blur_filter: list[float] | None = None,
        activation: str = "lrelu",
    ) -> None:
        super().__init__()
        if activation not in ("lrelu", "relu"):
            raise Sg2evalError(
                f"official classifier uses nonlinearity {activation!r}; expected lrelu or relu"
            )
        self.slope = 0.2 if activation == "lrelu" else 0.0
        g = math.sqrt(2.0)
        need = ["FromRGB_lod0/weight", "4x4/Conv/weight", "4x4/Dense0/weight", "4x4/Dense1/weight"]
        missing = [name for name in need if name not in variables]
        if missing:
            raise Sg2evalError(f"not a ProGAN-style discriminator: variables {missing} are missing")
        lod = float(np.asarray(variables.get("lod", 0.0)))
        if lod != 0.0:
            raise Sg2evalError(f"the classifier was saved mid-growth (lod = {lod}); only lod 0 is supported")
        resolutions = sorted(
            {int(m.group(1)) for name in variables if (m := re.match(r"^(\d+)x\1/Conv0/", name))},
            reverse=True,
        )
        self.resolution = resolutions[0] if resolutions else 4
        if resolutions != [2**i for i in range(int(math.log2(self.resolution)), 2, -1)]:
            raise Sg2evalError(
                f"blocks {resolutions} do not form a chain from the input resolution down to 8"
            )
        self.img_channels = int(variables["FromRGB_lod0/weight"].shape[2])

        def bias(name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(variables[f"{name}/bias"], dtype=np.float32))

        self.fromrgb_w = nn.Parameter(_conv_weight(variables["FromRGB_lod0/weight"], g, use_wscale))
        self.fromrgb_b = nn.Parameter(bias("FromRGB_lod0"))
        self.fused: list[bool] = []
        self.conv0_w, self.conv0_b = nn.ParameterList(), nn.ParameterList()
        self.conv1_w, self.conv1_b = nn.ParameterList(), nn.ParameterList()
        for res in resolutions:
            scope = f"{res}x{res}"
            fused = f"{scope}/Conv1_down/weight" in variables
            conv1 = f"{scope}/Conv1_down" if fused else f"{scope}/Conv1"
            if f"{conv1}/weight" not in variables:
                raise Sg2evalError(f"block {scope} has neither Conv1_down nor Conv1 weights")
            self.conv0_w.append(_conv_weight(variables[f"{scope}/Conv0/weight"], g, use_wscale))
            self.conv0_b.append(bias(f"{scope}/Conv0"))
            w1 = _conv_weight(variables[f"{conv1}/weight"], g, use_wscale)
            self.conv1_w.append(_fused_down_kernel(w1) if fused else w1)
            self.conv1_b.append(bias(conv1))
            self.fused.append(fused)
        self.conv4_w = nn.Parameter(_conv_weight(variables["4x4/Conv/weight"], g, use_wscale))
        self.conv4_b = nn.Parameter(bias("4x4/Conv"))
        expected_in = self.conv1_w[-1].shape[0] if len(self.conv1_w) else self.fromrgb_w.shape[0]
        if self.conv4_w.shape[1] != expected_in:
            raise Sg2evalError(
                "4x4/Conv expects extra input channels (minibatch std); not an attribute classifier"
            )
        dense0 = variables["4x4/Dense0/weight"]
        dense1 = variables["4x4/Dense1/weight"]
        scale0 = g / math.sqrt(dense0.shape[0]) if use_wscale else 1.0
        scale1 = 1.0 / math.sqrt(dense1.shape[0]) if use_wscale else 1.0
        self.dense0_w = nn.Parameter(torch.from_numpy(np.asarray(dense0, np.float32)) * scale0)  # [in, out]
        self.dense0_b = nn.Parameter(bias("4x4/Dense0"))
        self.dense1_w = nn.Parameter(torch.from_numpy(np.asarray(dense1, np.float32)) * scale1)
        self.dense1_b = nn.Parameter(bias("4x4/Dense1"))
        if blur_filter:
            f = np.asarray(blur_filter, dtype=np.float64)
            f2 = np.outer(f, f) if f.ndim == 1 else f
            self.register_buffer(
                "blur", torch.from_numpy((f2 / f2.sum())[::-1, ::-1].astype(np.float32).copy())
            )
        else:
            self.blur = None
        self.requires_grad_(False)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.slope) if self.slope else F.relu(x)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        assert self.blur is not None
        k = self.blur.shape[-1]
        kernel = self.blur[None, None].expand(x.shape[1], 1, k, k)
        return F.conv2d(x, kernel, padding=k // 2, groups=x.shape[1])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Logits [N, 1] for images [N, C, R, R] in [-1, 1]."""
        expected = (self.img_channels, self.resolution, self.resolution)
        if tuple(img.shape[1:]) != expected:
            raise Sg2evalError(f"official classifier expects images [N, {expected}], got {tuple(img.shape)}")
        x = self._act(F.conv2d(img, self.fromrgb_w, self.fromrgb_b))  # [N, C0, R, R]
        for i, fused in enumerate(self.fused):
            x = self._act(F.conv2d(x, self.conv0_w[i], self.conv0_b[i], padding=1))
            if self.blur is not None:
                x = self._blur(x)
            if fused:
                x = self._act(F.conv2d(x, self.conv1_w[i], self.conv1_b[i], stride=2, padding=1))
            else:
                x = F.avg_pool2d(self._act(F.conv2d(x, self.conv1_w[i], self.conv1_b[i], padding=1)), 2)
        x = self._act(F.conv2d(x, self.conv4_w, self.conv4_b, padding=1))  # [N, C, 4, 4]
        x = self._act(x.flatten(1) @ self.dense0_w + self.dense0_b)  # [N, C']
        x = x @ self.dense1_w + self.dense1_b  # [N, 1 + label_size]
        return x[:, :1]


def load_official_classifier(path: str | os.PathLike[str]) -> OfficialClassifier:
    """Read one ``celebahq-classifier-*.pkl`` (or any ProGAN/StyleGAN-v1 ``D`` pickle) as a torch module."""
    from sg2model.io.untrusted import reading_untrusted

    with reading_untrusted(path, Sg2evalError):
        return _official_classifier(Path(path))


def _official_classifier(path: Path) -> OfficialClassifier:
    from sg2model.io.tf_pickle import read_tf_pickle

    record = read_tf_pickle(path).D
    if record is None:
        raise Sg2evalError(f"{path} holds no discriminator network; pass a celebahq-classifier-*.pkl file")
    if record.build_func_name not in BUILD_FUNCTIONS:
        raise Sg2evalError(
            f"{path} was built by {record.build_func_name!r}; supported: {', '.join(BUILD_FUNCTIONS)}"
        )
    kwargs = record.static_kwargs
    blur = kwargs.get("blur_filter", [1, 2, 1]) if record.build_func_name == "D_basic" else None
    if blur is not None and not (isinstance(blur, (list, tuple)) and 0 < len(blur) <= MAX_BLUR_TAPS):
        raise Sg2evalError(f"{path} has a blur_filter of {blur!r:.40}; expected up to {MAX_BLUR_TAPS} taps")
    if int(kwargs.get("mbstd_group_size", 0) or 0) > 1:
        raise Sg2evalError(
            f"{path} uses minibatch std (group size {kwargs['mbstd_group_size']}); "
            "attribute classifiers must not"
        )
    if int(kwargs.get("label_size", 0) or 0) and record.build_func_name == "D_basic":
        raise Sg2evalError(f"{path} is a conditional D_basic (label_size > 0); not an attribute classifier")
    return OfficialClassifier(
        record.variables,
        use_wscale=bool(kwargs.get("use_wscale", True)),
        blur_filter=None if blur is None else list(blur),
        activation=str(kwargs.get("nonlinearity", "lrelu")),
    ).eval()


def find_official_files(folder: str | os.PathLike[str]) -> list[tuple[int, str, Path]]:
    """``(index, attribute, path)`` of the official classifier files in ``folder``, by index."""
    found = []
    for path in sorted(Path(folder).iterdir()):
        match = OFFICIAL_FILE_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path))
    return sorted(found)
