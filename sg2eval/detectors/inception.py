"""``inception-v3-tf``: pool3 features (2048) of the 2015-12-05 TensorFlow Inception-v3 graph, for FID/KID.

Two weight formats are accepted, told apart by content (:func:`sg2eval.weights.sniff_format`):

- the state dict converted from the TF graph by pytorch-fid / torch-fidelity
  (``pt_inception-2015-12-05-6726825d.pth``; 566 keys in torchvision ``Inception3`` naming, BN eps 1e-3,
  ``fc [1008, 2048]``), run by :class:`InceptionV3TF` below, with the graph's own preprocessing:
  TF1 bilinear resize to 299x299 (:func:`~sg2eval.detectors.base.tf1_resize_bilinear`) and
  ``(x - 128) / 128``;
- NVIDIA's TorchScript ``inception-2015-12-05.pt`` (stylegan2-ada-pytorch), which does the same resize and
  scaling inside and is called as ``m(images_uint8, return_features=True)`` (docs/facts.md, "Weight files";
  the official metric code passes the uint8 batch as is).

The network differs from torchvision's Inception3 where the TF graph does (docs/facts.md, "FIDInception"):
every average pool inside the mixed blocks ignores the zero padding (``count_include_pad=False``),
and the pool branch of the last block (``Mixed_7c``) uses a 3x3 max pool instead of an average pool.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sg2eval.detectors.base import Detector, tf1_resize_bilinear
from sg2eval.detectors.torchscript import load_torchscript
from sg2eval.errors import Sg2evalError
from sg2eval.weights import WeightsFile, find_weights, load_state_file, sniff_format

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
TF_PREPROCESS_ID = "tf1-bilinear-299,(x-128)/128"


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as the TF graph), ReLU. Keys ``conv.*``, ``bn.*``."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)  # the conv (or bn) output is a fresh tensor

    def fold_batch_norm(self) -> None:
        """Fold the inference batch norm into the convolution (weight times ``gamma / sqrt(var + eps)``,
        a bias ``beta - mean * scale``; computed in float64, stored in float32) and drop ``bn``. Features
        move by float32 rounding only (docs/performance.md); the state dict loses the pytorch-fid layout."""
        bn, conv = self.bn, self.conv
        assert bn.running_mean is not None and bn.running_var is not None  # eval-mode statistics are loaded
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)  # [c_out]
        weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
        bias = bn.bias.double() - bn.running_mean.double() * scale
        conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)
        self.bn = nn.Identity()  # type: ignore[assignment]


def row_conv(c_in: int, c_out: int, k: int) -> ConvBN:
    """A 1 x k :class:`ConvBN` that keeps the size (padding k // 2 along the width)."""
    return ConvBN(c_in, c_out, (1, k), padding=(0, k // 2))


def col_conv(c_in: int, c_out: int, k: int) -> ConvBN:
    """A k x 1 :class:`ConvBN` that keeps the size (padding k // 2 along the height)."""
    return ConvBN(c_in, c_out, (k, 1), padding=(k // 2, 0))


@dataclass(frozen=True)
class Branch:
    """One branch of a mixed block: an optional pool first, a chain of convs, then optionally two convs
    applied side by side to the chain's output and concatenated (the 1x3 / 3x1 pairs of the E blocks)."""

    convs: tuple[str, ...] = ()
    pool: str | None = None  # 'avg' (3x3 s1, padding ignored), 'max1' (3x3 s1 p1) or 'max2' (3x3 s2)
    split: tuple[str, str] | None = None


def _pool(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "avg":
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    if kind == "max1":
        return F.max_pool2d(x, 3, stride=1, padding=1)
    return F.max_pool2d(x, 3, stride=2)


class Mixed(nn.Module):
    """A mixed (inception) block: named :class:`ConvBN` layers and the branches that chain them; the
    branch outputs are concatenated along channels in order."""

    def __init__(self, layers: dict[str, ConvBN], branches: Sequence[Branch]) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.branches = tuple(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for branch in self.branches:
            h = x if branch.pool is None else _pool(x, branch.pool)
            for name in branch.convs:
                h = self.get_submodule(name)(h)
            if branch.split is not None:
                h = torch.cat([self.get_submodule(name)(h) for name in branch.split], 1)
            outputs.append(h)
        return torch.cat(outputs, 1)


def mixed_a(c: int, pool_c: int) -> Mixed:
    """35x35 block (``Mixed_5b..5d``): out 224 + pool_c channels."""
    return Mixed(
        {
            "branch1x1": ConvBN(c, 64, 1),
            "branch5x5_1": ConvBN(c, 48, 1),
            "branch5x5_2": ConvBN(48, 64, 5, padding=2),
            "branch3x3dbl_1": ConvBN(c, 64, 1),
            "branch3x3dbl_2": ConvBN(64, 96, 3, padding=1),
            "branch3x3dbl_3": ConvBN(96, 96, 3, padding=1),
            "branch_pool": ConvBN(c, pool_c, 1),
        },
        [
            Branch(("branch1x1",)),
            Branch(("branch5x5_1", "branch5x5_2")),
            Branch(("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")),
            Branch(("branch_pool",), pool="avg"),
        ],
    )


def mixed_b(c: int) -> Mixed:
    """35 -> 17 reduction (``Mixed_6a``): out 384 + 96 + c channels."""
    return Mixed(
        {
            "branch3x3": ConvBN(c, 384, 3, stride=2),
            "branch3x3dbl_1": ConvBN(c, 64, 1),
            "branch3x3dbl_2": ConvBN(64, 96, 3, padding=1),
            "branch3x3dbl_3": ConvBN(96, 96, 3, stride=2),
        },
        [
            Branch(("branch3x3",)),
            Branch(("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")),
            Branch(pool="max2"),
        ],
    )


def mixed_c(c: int, c7: int) -> Mixed:
    """17x17 block with factorized 7x7 convs (``Mixed_6b..6e``): out 768 channels."""
    return Mixed(
        {
            "branch1x1": ConvBN(c, 192, 1),
            "branch7x7_1": ConvBN(c, c7, 1),
            "branch7x7_2": row_conv(c7, c7, 7),
            "branch7x7_3": col_conv(c7, 192, 7),
            "branch7x7dbl_1": ConvBN(c, c7, 1),
            "branch7x7dbl_2": col_conv(c7, c7, 7),
            "branch7x7dbl_3": row_conv(c7, c7, 7),
            "branch7x7dbl_4": col_conv(c7, c7, 7),
            "branch7x7dbl_5": row_conv(c7, 192, 7),
            "branch_pool": ConvBN(c, 192, 1),
        },
        [
            Branch(("branch1x1",)),
            Branch(("branch7x7_1", "branch7x7_2", "branch7x7_3")),
            Branch(tuple(f"branch7x7dbl_{i}" for i in range(1, 6))),
            Branch(("branch_pool",), pool="avg"),
        ],
    )


def mixed_d(c: int) -> Mixed:
    """17 -> 8 reduction (``Mixed_7a``): out 320 + 192 + c channels."""
    return Mixed(
        {
            "branch3x3_1": ConvBN(c, 192, 1),
            "branch3x3_2": ConvBN(192, 320, 3, stride=2),
            "branch7x7x3_1": ConvBN(c, 192, 1),
            "branch7x7x3_2": row_conv(192, 192, 7),
            "branch7x7x3_3": col_conv(192, 192, 7),
            "branch7x7x3_4": ConvBN(192, 192, 3, stride=2),
        },
        [
            Branch(("branch3x3_1", "branch3x3_2")),
            Branch(tuple(f"branch7x7x3_{i}" for i in range(1, 5))),
            Branch(pool="max2"),
        ],
    )


def mixed_e(c: int, pool: str) -> Mixed:
    """8x8 block with split 1x3 / 3x1 convs (``Mixed_7b`` with an average pool, ``Mixed_7c`` with the
    TF graph's max pool): out 2048 channels."""
    return Mixed(
        {
            "branch1x1": ConvBN(c, 320, 1),
            "branch3x3_1": ConvBN(c, 384, 1),
            "branch3x3_2a": row_conv(384, 384, 3),
            "branch3x3_2b": col_conv(384, 384, 3),
            "branch3x3dbl_1": ConvBN(c, 448, 1),
            "branch3x3dbl_2": ConvBN(448, 384, 3, padding=1),
            "branch3x3dbl_3a": row_conv(384, 384, 3),
            "branch3x3dbl_3b": col_conv(384, 384, 3),
            "branch_pool": ConvBN(c, 192, 1),
        },
        [
            Branch(("branch1x1",)),
            Branch(("branch3x3_1",), split=("branch3x3_2a", "branch3x3_2b")),
            Branch(("branch3x3dbl_1", "branch3x3dbl_2"), split=("branch3x3dbl_3a", "branch3x3dbl_3b")),
            Branch(("branch_pool",), pool=pool),
        ],
    )


class InceptionV3TF(nn.Module):
    """The TF 2015-12-05 Inception-v3 up to pool3. ``forward(x [N, 3, 299, 299] in [-1, 1]) -> [N, 2048]``.

    Its state dict has exactly the 566 keys of pytorch-fid's converted file. ``fc`` (the 1008-way
    classifier) is part of that layout and is loaded, but pool3 features do not use it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = mixed_a(192, 32), mixed_a(256, 64), mixed_a(288, 64)
        self.Mixed_6a = mixed_b(288)
        self.Mixed_6b, self.Mixed_6c = mixed_c(768, 128), mixed_c(768, 160)
        self.Mixed_6d, self.Mixed_6e = mixed_c(768, 160), mixed_c(768, 192)
        self.Mixed_7a = mixed_d(768)
        self.Mixed_7b, self.Mixed_7c = mixed_e(1280, "avg"), mixed_e(2048, "max1")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1:] == (3, INPUT_SIZE, INPUT_SIZE), x.shape
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # [N, 64, 147, 147]
        x = F.max_pool2d(x, 3, stride=2)  # [N, 64, 73, 73]
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # [N, 192, 71, 71]
        x = F.max_pool2d(x, 3, stride=2)  # [N, 192, 35, 35]
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # [N, 288, 35, 35]
        x = self.Mixed_6a(x)  # [N, 768, 17, 17]
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # [N, 768, 17, 17]
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # [N, 2048, 8, 8]
        return x.mean(dim=(2, 3))  # pool3: [N, 2048]


def load_inception_state_dict(path: str) -> InceptionV3TF:
    """Build :class:`InceptionV3TF` from a pytorch-fid-layout state dict (strict: every key must match)."""
    state: Any = load_state_file(path, "Inception state dict")
    if not isinstance(state, dict):
        raise Sg2evalError(
            f"{path} is not an Inception state dict; pass pt_inception-2015-12-05-6726825d.pth"
        )
    with torch.device("meta"):
        net = InceptionV3TF()
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise Sg2evalError(
            f"{path} does not have the pytorch-fid Inception layout ({first}); "
            "pass pt_inception-2015-12-05-6726825d.pth or NVIDIA's inception-2015-12-05.pt"
        ) from error
    return net.eval().requires_grad_(False)


def inference_network(net: InceptionV3TF, device: torch.device) -> InceptionV3TF:
    """``net`` made fast for feature extraction, in place: batch norms folded into the convolutions and the
    weights in channels-last order on ``device`` (inputs are given in that order too). About 1.5x the
    images/s of the plain network on a CPU (benchmarks/bench_features.py, docs/performance.md)."""
    for module in net.modules():
        if isinstance(module, ConvBN):
            module.fold_batch_norm()
    return net.to(device).to(memory_format=torch.channels_last)


class InceptionDetector(Detector):
    """``inception-v3-tf`` on either weight format (see the module docstring)."""

    name = "inception-v3-tf"
    feature_dim: int | None = FEATURE_DIM

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__(weights, device)
        self.format = "torchscript" if weights.kind == "inception-nv" else "state-dict"
        if self.format == "torchscript":
            self.script = load_torchscript(weights.path, self.device)
            self.preprocess_id = "nv-torchscript(" + TF_PREPROCESS_ID + ")"
        else:
            self.net = inference_network(load_inception_state_dict(str(weights.path)), self.device)
            self.preprocess_id = TF_PREPROCESS_ID

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.format == "torchscript":
            return self.script(images, return_features=True)
        x = tf1_resize_bilinear(images.to(torch.float32), INPUT_SIZE, INPUT_SIZE)  # [N, 3, 299, 299]
        return self.net(((x - 128) / 128).contiguous(memory_format=torch.channels_last))

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "format": self.format}


class InceptionLogitsDetector(InceptionDetector):
    """``inception-v3-tf-logits``: the 1008 class logits of the same network *without* the classifier bias,
    for the Inception Score (:mod:`sg2eval.metrics.inception_score`): ``pool3 @ fc.weight.T`` from the state
    dict (torch-fidelity's ``logits_unbiased``), or, from NVIDIA's TorchScript, the log of its softmax called
    with ``no_output_bias=True`` (what stylegan2-ada-pytorch's IS uses; equal up to a constant per image)."""

    name = "inception-v3-tf-logits"
    feature_dim: int | None = NUM_CLASSES

    def __init__(self, weights: WeightsFile, device: str | torch.device = "cpu") -> None:
        super().__init__(weights, device)
        self.preprocess_id = self.preprocess_id + ",logits-without-bias"

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.format == "torchscript":
            probs = self.script(images, no_output_bias=True)  # [N, 1008]
            return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()
        return super().features(images) @ self.net.fc.weight.T  # [N, 2048] @ [2048, 1008]


def inception_weights(weights: str | os.PathLike[str] | None) -> WeightsFile:
    """Find the Inception weights: an explicit file in either format (told by content), else the
    pytorch-fid ``.pth`` or NVIDIA's ``.pt``, whichever is found first, else download the ``.pth``
    (the one with a published hash)."""
    if weights is None:
        return find_weights(["inception-pth", "inception-nv"])
    fmt = sniff_format(weights)
    if fmt == "torchscript":
        return find_weights("inception-nv", explicit=weights)
    if fmt in ("torch-zip", "pickle"):
        return find_weights("inception-pth", explicit=weights)
    raise Sg2evalError(
        f"{weights} is neither a TorchScript file nor a torch state dict; "
        "TF pickles (inception_v3_features.pkl) are not supported: "
        "use pt_inception-2015-12-05-6726825d.pth or inception-2015-12-05.pt"
    )
