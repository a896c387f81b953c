"""Perceptual path length settings and the named presets that reproduce the published numbers.

A :class:`PPLConfig` holds everything that changes the value of the metric (docs/facts.md, "PPL"). Presets are
named after the rows they reproduce:

- ``ppl2_wend`` — StyleGAN2 Table 1 "Path length": W, endpoints, whole image (no crop), 50 000 samples.
- ``ppl_zfull``, ``ppl_wfull``, ``ppl_zend``, ``ppl_wend`` — the official StyleGAN2 metric names: the same
  with the StyleGAN (v1) face crop.
- ``sg1_zfull``, ``sg1_wfull``, ``sg1_zend``, ``sg1_wend`` — StyleGAN journal Tables 3–4 (Sec. 4.1):
  100 000 samples, face crop.

``noise_group`` is how many consecutive pairs share one draw of the noise inputs. The official code shares
one draw per minibatch (4 pairs per GPU in NVlabs/stylegan2, 16 in StyleGAN v1, 2 in stylegan2-ada-pytorch),
which ties its numbers to the minibatch size; the presets use 1 (a fresh draw for every pair, both images of
a pair sharing it), which has the same expected value and makes the result independent of the batch size.
Set ``noise_group`` to the official value to reproduce the sharing exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from sg2eval.errors import Sg2evalError
from sg2model.core.checks import check_fields

Space = Literal["w", "z"]
Sampling = Literal["end", "full"]


@dataclass(frozen=True)
class PPLConfig:
    """Parameters of one perceptual path length measurement (StyleGAN journal Eq. 2–3).

    space:                 'z' — slerp between z0 and z1 before the mapping network; 'w' — lerp after it.
    sampling:              'full' — t ~ U[0, 1); 'end' — t = 0 (the official code draws U(0, 0)).
    num_samples:           number of pairs; the metric is the mean of the per-pair scores within [p1, p99].
    epsilon:               step along the path; each distance is divided by epsilon ** 2.
    crop:                  keep the StyleGAN (v1) FFHQ face region ``[3c:7c, 2c:6c]`` with ``c = H // 8``.
    downsample_before_crop: box-downsample before cropping (stylegan2-ada-pytorch's order: 1024 with crop
                           gives 128x128); the default crops first, then downsamples to 256 (NVlabs TF).
    noise_group:           consecutive pairs sharing one noise draw (1: one draw per pair).
    """

    space: Space = "w"
    sampling: Sampling = "end"
    num_samples: int = 50_000
    epsilon: float = 1e-4
    crop: bool = False
    downsample_before_crop: bool = False
    noise_group: int = 1

    def __post_init__(self) -> None:
        if self.space not in ("w", "z"):
            raise Sg2evalError(f"PPL space must be 'w' or 'z', got {self.space!r}; pick one of the two.")
        if self.sampling not in ("end", "full"):
            raise Sg2evalError(f"PPL sampling must be 'end' or 'full', got {self.sampling!r}; pick one.")
        check_fields(self, ("num_samples", "epsilon", "noise_group"), Sg2evalError)  # as the CLI

    def replace(self, **changes: Any) -> PPLConfig:
        """A copy with ``changes`` applied (validated again); ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PPLPreset:
    """A named configuration and the published row it reproduces."""

    name: str
    config: PPLConfig
    reproduces: str
    official_noise_group: int


def _preset(name: str, reproduces: str, official_noise_group: int, **config: Any) -> PPLPreset:
    return PPLPreset(name, PPLConfig(**config), reproduces, official_noise_group)


DEFAULT_PRESET = "ppl2_wend"

#: The :class:`PPLConfig` field names, which are also the override options of ``sg2eval ppl``.
CONFIG_FIELDS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(PPLConfig))

PRESETS: dict[str, PPLPreset] = {
    preset.name: preset
    for preset in (
        _preset(
            "ppl2_wend",
            "StyleGAN2 Table 1 'Path length' (W, endpoints, no crop)",
            4,
            space="w",
            sampling="end",
            crop=False,
        ),
        _preset(
            "ppl_zfull",
            "NVlabs/stylegan2 metric ppl_zfull (Z, full paths, face crop)",
            4,
            space="z",
            sampling="full",
            crop=True,
        ),
        _preset(
            "ppl_wfull",
            "NVlabs/stylegan2 metric ppl_wfull (W, full paths, face crop)",
            4,
            space="w",
            sampling="full",
            crop=True,
        ),
        _preset(
            "ppl_zend",
            "NVlabs/stylegan2 metric ppl_zend (Z, endpoints, face crop)",
            4,
            space="z",
            sampling="end",
            crop=True,
        ),
        _preset(
            "ppl_wend",
            "NVlabs/stylegan2 metric ppl_wend (W, endpoints, face crop)",
            4,
            space="w",
            sampling="end",
            crop=True,
        ),
        _preset(
            "sg1_zfull",
            "StyleGAN journal Tables 3-4 'full' in Z (100k samples, face crop)",
            16,
            space="z",
            sampling="full",
            crop=True,
            num_samples=100_000,
        ),
        _preset(
            "sg1_wfull",
            "StyleGAN journal Tables 3-4 'full' in W (100k samples, face crop)",
            16,
            space="w",
            sampling="full",
            crop=True,
            num_samples=100_000,
        ),
        _preset(
            "sg1_zend",
            "StyleGAN journal Tables 3-4 'end' in Z (100k samples, face crop)",
            16,
            space="z",
            sampling="end",
            crop=True,
            num_samples=100_000,
        ),
        _preset(
            "sg1_wend",
            "StyleGAN journal Tables 3-4 'end' in W (100k samples, face crop)",
            16,
            space="w",
            sampling="end",
            crop=True,
            num_samples=100_000,
        ),
    )
}


def get_preset(name: str) -> PPLPreset:
    """The preset called ``name``; an unknown name is one clear error listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise Sg2evalError(f"unknown PPL preset {name!r}; choose one of {', '.join(PRESETS)}.") from None


def preset_config(name: str | None = None, **overrides: Any) -> PPLConfig:
    """The configuration of preset ``name`` (default ``ppl2_wend``, StyleGAN2 Table 1) with the
    ``overrides`` (:class:`PPLConfig` fields) that are not None applied."""
    return get_preset(name or DEFAULT_PRESET).config.replace(**overrides)
