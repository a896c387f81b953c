"""Attribute classifier networks and their input preprocessing.

StyleGAN journal paper, Appendix (training details): "The classifiers used by our separability metric have the
same architecture as our discriminator except that minibatch standard deviation is disabled", one network
per binary attribute, one logit each. Here that is :class:`sg2model.Discriminator` with ``mbstd_group_size=0``
and ``out_features`` logits (1 per attribute network; several for the optional shared multi-head variant).

Logit convention: ``l > 0`` means the attribute is present. The separability metric turns ``l`` into
``softmax([l, -l])`` as the official code does, so only ``|l|`` ranks confidence and the sign picks the side.
"""

from __future__ import annotations

import torch

from sg2eval.errors import Sg2evalError

ARCHITECTURES = ("resnet", "orig", "skip")


def build_attribute_network(
    resolution: int,
    img_channels: int = 3,
    out_features: int = 1,
    channel_base: int = 16384,
    channel_max: int = 512,
    architecture: str = "resnet",
) -> torch.nn.Module:
    """A discriminator without minibatch std mapping images [N, C, R, R] in [-1, 1] to logits [N, out]."""
    from sg2model import Discriminator

    if architecture not in ARCHITECTURES:
        raise Sg2evalError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    return Discriminator(
        c_dim=0,
        img_resolution=resolution,
        img_channels=img_channels,
        architecture=architecture,
        channel_base=channel_base,
        channel_max=channel_max,
        mbstd_group_size=0,
        out_features=out_features,
    )


def box_downsample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average ``f x f`` pixel boxes so that [N, C, H, W] becomes [N, C, size, size] (``f = H // size``).

    The official metric does this for generator outputs above 256x256 ("the attribute classifiers were built
    for 256x256", docs/facts.md, "Linear separability"). Images already at ``size`` pass through; other
    sizes raise.
    """
    n, c, h, w = images.shape
    if h == size and w == size:
        return images
    factor = h // size
    if h != w or factor < 2 or factor * size != h:
        raise Sg2evalError(
            f"classifiers take {size}x{size} images; got {h}x{w}, which is not an integer multiple of it"
        )
    return images.reshape(n, c, size, factor, size, factor).mean(dim=(3, 5))  # [N, C, size, size]


def images_to_classifier_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] dataset images -> float [-1, 1], the generator's output range."""
    return images_uint8.to(torch.float32) / 127.5 - 1.0
