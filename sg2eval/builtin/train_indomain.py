"""Training of the in-domain feature network (:class:`sg2eval.builtin.indomain.ShapesFeatureNet`).

Data: freshly rendered built-in shapes (``sg2datasets.shapes``) with their 11 attribute bits and 8 continuous
nuisances, from a seed different from the GAN's training data. Loss: logistic on the attribute logits plus
squared error on the nuisances (both averaged over outputs); Adam. The held-out attribute accuracy is
recorded in the weight file's metadata.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sg2eval.builtin.indomain import FeatureNetConfig, ShapesFeatureNet, save_feature_net
from sg2eval.progress import track


@dataclass(frozen=True)
class FeatureTrainConfig:
    """Settings of one feature-network training run."""

    num_images: int = 32_000
    held_out: int = 2_000
    data_seed: int = 1
    seed: int = 0
    steps: int = 4_000
    batch_size: int = 64
    lr: float = 2e-3
    channels: tuple[int, ...] = (16, 32, 64, 128)
    feature_dim: int = 128


def shapes_targets(num: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], int]:
    """Images uint8 [N, 3, 32, 32], targets float32 [N, A + K] (bits, then nuisances), output names, A."""
    from sg2datasets.shapes import ATTRIBUTES, NUISANCES, make_shapes, sample_params

    images, attributes = make_shapes(num, 32, seed)
    nuisances = sample_params(num, seed).nuisances  # [N, K] in [0, 1)
    targets = np.concatenate([attributes.astype(np.float32), nuisances.astype(np.float32)], axis=1)
    return images, targets, (*ATTRIBUTES, *NUISANCES), len(ATTRIBUTES)


def _loss(out: torch.Tensor, target: torch.Tensor, num_binary: int) -> torch.Tensor:
    bits = F.binary_cross_entropy_with_logits(out[:, :num_binary], target[:, :num_binary])
    return bits + F.mse_loss(out[:, num_binary:], target[:, num_binary:])


def train_feature_net(
    out: str | os.PathLike[str], config: FeatureTrainConfig = FeatureTrainConfig(), progress: bool = False
) -> dict[str, float]:
    """Train on CPU and write the safetensors file ``out``; returns held-out accuracy per attribute."""
    start = time.perf_counter()
    images, targets, names, num_binary = shapes_targets(config.num_images, config.data_seed)
    x_all = torch.from_numpy(images).float() / 127.5 - 1  # [N, 3, 32, 32]
    y_all = torch.from_numpy(targets)  # [N, A + K]
    train_x, train_y = x_all[config.held_out :], y_all[config.held_out :]
    torch.manual_seed(config.seed)
    net = ShapesFeatureNet(FeatureNetConfig(config.channels, config.feature_dim, names, num_binary))
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    order = torch.Generator().manual_seed(config.seed)
    for step in track(range(config.steps), config.steps, "train in-domain features", enabled=progress):
        idx = torch.randint(len(train_x), (config.batch_size,), generator=order)
        lr = config.lr * min(1.0, 2.0 * (1 - step / config.steps))  # linear decay over the second half
        for group in opt.param_groups:
            group["lr"] = lr
        loss = _loss(net(train_x[idx]), train_y[idx], num_binary)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        held = torch.cat([net(part) for part in x_all[: config.held_out].split(256)])  # [H, A + K]
    truth = y_all[: config.held_out]
    accuracy = ((held[:, :num_binary] > 0) == (truth[:, :num_binary] > 0.5)).float().mean(0)
    mse = (held[:, num_binary:] - truth[:, num_binary:]).square().mean(0)
    report = {f"acc.{n}": float(a) for n, a in zip(names, accuracy, strict=False)}
    report.update({f"mse.{n}": float(m) for n, m in zip(names[num_binary:], mse, strict=True)})
    meta = {"train": {**asdict(config), "elapsed_s": time.perf_counter() - start}, "held_out": report}
    save_feature_net(out, net, **meta)
    return report
