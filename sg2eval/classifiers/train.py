"""Train attribute classifiers on a labelled dataset (StyleGAN journal paper, Appendix: classifier training).

Paper settings (the defaults): one network per attribute, Adam with learning rate 1e-3, minibatch 8,
150 000 training images per network. The paper does not give Adam's betas; the default (0, 0.99, eps 1e-8)
is the optimizer setting of the ProGAN/StyleGAN code base the classifiers were trained in (an assumption,
``TrainConfig.betas`` changes it). Loss: logistic (binary cross-entropy on the logit; ``l > 0`` = present).

A share of the dataset (``held_out``, chosen by the seed) is never trained on; the accuracy on it is written
into the manifest beside each network. The output folder is a classifier set (see
:mod:`sg2eval.classifiers.classifier_set`) that ``sg2eval separability --classifiers DIR`` reads. The set is
written into a temporary sibling folder and swapped in whole when complete, so an interrupted run leaves a set
that was there before as it was (and no partial one).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sg2eval.classifiers.classifier_set import MANIFEST, ClassifierEntry, write_manifest
from sg2eval.classifiers.model import build_attribute_network, images_to_classifier_range
from sg2eval.errors import Sg2evalError
from sg2model.core.checks import check_fields
from sg2model.core.files import atomic_folder, remove_stale_temporaries

_PRELOAD_BYTES = 1 << 30  # decode the whole dataset up front when it fits in 1 GiB


@dataclass(frozen=True)
class TrainConfig:
    """Classifier training settings; defaults follow the paper (see module docstring)."""

    total_images: int = 150_000  # training images shown to each network
    batch_size: int = 8
    lr: float = 1e-3
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    channel_base: int = 16384
    channel_max: int = 512
    architecture: str = "resnet"
    held_out: float = 0.1  # share of images kept out of training for the accuracy check
    seed: int = 0
    multi_head: bool = False  # one network with one logit per attribute instead of one network each
    attributes: tuple[str, ...] | None = None  # subset (None = every attribute of the labels)
    eval_batch: int = 256

    def __post_init__(self) -> None:
        check_fields(self, ("total_images", "batch_size", "lr", "eval_batch"), Sg2evalError)  # as the CLI


@dataclass(frozen=True)
class TrainReport:
    """What training produced: the set folder and held-out accuracy per attribute."""

    folder: Path
    accuracy: dict[str, float]
    num_train: int
    num_held_out: int
    elapsed_s: float
    files: dict[str, str] = field(default_factory=dict)


class _Images:
    """Dataset images as float [-1, 1] batches, decoded once when small enough."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        size = len(dataset) * dataset.channels * dataset.resolution**2
        self.cache = dataset.read(range(len(dataset))) if size <= _PRELOAD_BYTES else None

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        raw = self.cache[indices] if self.cache is not None else self.dataset.read(indices)
        return images_to_classifier_range(torch.from_numpy(raw))  # [n, C, R, R]


def _split(num: int, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train / held-out index split."""
    if not 0.0 < held_out < 1.0:
        raise Sg2evalError(f"held_out must be in (0, 1), got {held_out}")
    order = np.random.default_rng([seed, 7]).permutation(num)
    num_held = max(1, int(round(num * held_out)))
    if num - num_held < 1:
        raise Sg2evalError(f"dataset of {num} images is too small to hold out {held_out:.0%}")
    return np.sort(order[num_held:]), np.sort(order[:num_held])


def _fit(
    net: torch.nn.Module,
    images: _Images,
    labels: np.ndarray,
    train_idx: np.ndarray,
    config: TrainConfig,
    seed: int,
    device: torch.device,
    description: str,
    progress: bool,
) -> None:
    """Adam on the logistic loss for ``config.total_images`` images; ``labels [N, k]`` in {0, 1}."""
    from sg2eval.progress import track

    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
    rng = np.random.default_rng([seed, 11])
    steps = max(1, config.total_images // config.batch_size)
    net.train().requires_grad_(True)
    for _ in track(range(steps), steps, description, enabled=progress):
        idx = rng.choice(train_idx, size=config.batch_size, replace=len(train_idx) < config.batch_size)
        x = images.batch(idx).to(device)
        y = torch.from_numpy(labels[idx].astype(np.float32)).to(device)  # [B, k]
        loss = F.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval().requires_grad_(False)


@torch.no_grad()
def _accuracy(
    net: torch.nn.Module,
    images: _Images,
    labels: np.ndarray,
    idx: np.ndarray,
    batch: int,
    device: torch.device,
) -> np.ndarray:
    """Share of ``idx`` whose logit sign matches the label, per output column: [k]."""
    correct = np.zeros(labels.shape[1])
    for start in range(0, len(idx), batch):
        part = idx[start : start + batch]
        logits = net(images.batch(part).to(device)).cpu().numpy()  # [n, k]
        correct += ((logits > 0) == (labels[part] > 0)).sum(axis=0)
    return correct / len(idx)


def _check_output(folder: Path) -> None:
    """``folder`` may be new, empty or a classifier set (which training replaces whole), nothing else."""
    if folder.exists() and not folder.is_dir():
        raise Sg2evalError(f"--out {folder} is a file; give a folder for the classifier set")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
        raise Sg2evalError(
            f"--out {folder} holds files but no {MANIFEST}; give a new or empty folder, or a classifier set "
            "to replace"
        )


def train_classifiers(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    config: TrainConfig = TrainConfig(),
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> TrainReport:
    """Train attribute classifiers on ``data`` (image zip/folder with labels) into the set folder ``out``."""
    from sg2datasets.labelled import LabelledDataset
    from sg2model import save_network

    start = time.perf_counter()
    device = torch.device(device)
    folder = Path(out)
    _check_output(folder)
    remove_stale_temporaries(folder.parent, folder.name)
    dataset = LabelledDataset(data, labels)
    names = list(config.attributes) if config.attributes else dataset.attribute_names
    unknown = sorted(set(names) - set(dataset.attribute_names))
    if unknown:
        raise Sg2evalError(
            f"attributes {unknown} are not in the labels; available: {dataset.attribute_names}"
        )
    table = dataset.attributes[names].to_numpy().astype(np.int64)  # [N, A]
    train_idx, held_idx = _split(len(dataset), config.held_out, config.seed)
    images = _Images(dataset)
    build: dict[str, Any] = {
        "resolution": dataset.resolution,
        "img_channels": dataset.channels,
        "channel_base": config.channel_base,
        "channel_max": config.channel_max,
        "architecture": config.architecture,
    }
    # Each group is (file, attribute indices) trained as one network.
    groups = (
        [("all-attributes.sg2", list(range(len(names))))]
        if config.multi_head
        else [(f"{i:02d}-{name}.sg2", [i]) for i, name in enumerate(names)]
    )
    entries: list[ClassifierEntry] = []
    accuracy: dict[str, float] = {}
    with atomic_folder(folder) as staging:
        for group_index, (file, columns) in enumerate(groups):
            torch.manual_seed(config.seed * 1000 + group_index)
            net = build_attribute_network(out_features=len(columns), **build).to(device)
            what = names[columns[0]] if len(columns) == 1 else f"{len(columns)} attributes"
            _fit(
                net,
                images,
                table[:, columns],
                train_idx,
                config,
                config.seed * 1000 + group_index,
                device,
                f"train {what}",
                progress,
            )
            acc = _accuracy(net, images, table[:, columns], held_idx, config.eval_batch, device)
            meta = {
                "kind": "attribute-classifier",
                "attributes": [names[c] for c in columns],
                "held_out_accuracy": acc.tolist(),
            }
            save_network(staging / file, D=net.cpu(), **meta)
            for out_col, c in enumerate(columns):
                accuracy[names[c]] = float(acc[out_col])
                entries.append(
                    ClassifierEntry(names[c], file, out_col, held_out_accuracy=float(acc[out_col]))
                )
        entries.sort(key=lambda e: names.index(e.name))
        write_manifest(
            staging,
            entries,
            dataset.resolution,
            dataset.channels,
            training={
                **asdict(config),
                "device": str(device),
                "num_train": len(train_idx),
                "num_held_out": len(held_idx),
            },
            dataset=dataset.describe(),
        )
    dataset.close()
    return TrainReport(
        folder=folder,
        accuracy=accuracy,
        num_train=len(train_idx),
        num_held_out=len(held_idx),
        elapsed_s=time.perf_counter() - start,
        files={e.name: e.file for e in entries},
    )
