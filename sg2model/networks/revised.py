"""Revised StyleGAN (StyleGAN2 paper Section 2.2, Figure 2d; Table 1 configs B-D) for inference.

Configs B-D keep StyleGAN's progressive growing but replace AdaIN by weight demodulation (Eqs. 1-3): the
TF graph ``G_synthesis_stylegan_revised`` (NVlabs/stylegan2 ``networks_stylegan2.py``) runs, per resolution,
``Conv0_up`` (modulated 3x3, transposed conv + [1,3,3,1] FIR) and ``Conv1`` (modulated 3x3), each followed
by noise, bias and leaky ReLU, exactly the layers of the StyleGAN2 synthesis network. Its output is
progressive: ``ToRGB_lod{k}`` exists at every resolution and the image blends two of them while ``lod``
is fractional. The published networks are at their final level (``lod = 0``), where the recursive graph
reduces to ``ToRGB_lod0`` applied to the full-resolution features with the last w (index ``num_ws - 1``)
-- the 'orig' architecture of the StyleGAN2 synthesis network (Figure 7, no skips, no residuals). The
discriminator ``D_stylegan`` likewise reduces to ``FromRGB_lod0`` plus the 'orig' StyleGAN2 discriminator.

So configs B-D are built from the StyleGAN2 layers (:class:`sg2model.Generator` and
:class:`sg2model.Discriminator` with ``architecture='orig'``); ``sg2model.io.tf_convert`` maps
``ToRGB_lod0`` to ``synthesis.b{R}.torgb`` and ``FromRGB_lod0`` to ``b{R}.fromrgb``, skips the coarser
``ToRGB_lod{k}``/``FromRGB_lod{k}`` and refuses snapshots taken while growing. The presets ``B``, ``C``
and ``D`` (same networks; they differ only in training: lazy regularization, path length regularization)
are the 'revised' networks of :mod:`sg2model.paper_rows`, registered in :mod:`sg2model.configs`.
"""

from __future__ import annotations

from typing import Any

from sg2model import paper_rows
from sg2model.core.errors import Sg2Error
from sg2model.networks.discriminator import Discriminator
from sg2model.networks.synthesis import Generator

#: The Table 1 configs built by the revised StyleGAN: B, C, D.
REVISED_CONFIGS = tuple(net.name for net in paper_rows.networks("revised"))


def _check_config(config: str) -> None:
    if config not in REVISED_CONFIGS:
        raise Sg2Error(
            f"config {config!r} is not a revised-StyleGAN config; choose one of {', '.join(REVISED_CONFIGS)}"
        )


def revised_generator(resolution: int, config: str = "D", **overrides: Any) -> Generator:
    """Configs B-D generator at its final progressive-growing level (random weights)."""
    _check_config(config)
    return Generator.from_config(config, resolution, **overrides)


def revised_discriminator(resolution: int, config: str = "D", **overrides: Any) -> Discriminator:
    """Configs B-D discriminator (``D_stylegan``) at its final level (random weights)."""
    _check_config(config)
    return Discriminator.from_config(config, resolution, **overrides)
