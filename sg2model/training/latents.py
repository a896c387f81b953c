"""Random draws of one training round: latents, style mixing and noise, from counter-based streams.

Every draw of the loop comes from a generator seeded by ``(seed, step, phase, chunk)``, where ``chunk``
numbers the ``batch / batch_gpu`` pieces of the global minibatch. A piece is therefore drawn the same way
whichever process computes it, so one process running two rounds and two processes running one round each
see the same numbers, and a resumed run needs only the step counter to continue the streams.

Style mixing (paper Section 2, StyleGAN Section 3.1; docs/facts.md, "Training"): with probability 0.9 a round
uses a second latent for the ws from a cutoff drawn uniformly in ``[1, num_ws)`` (one decision per round,
as the official code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sg2model.networks import mix_styles

# Stream ids of the phases and other consumers of randomness.
STREAM_IDS = {"G_main": 0, "G_reg": 1, "D_main": 2, "D_reg": 3, "pl_noise": 4, "grid": 5}


def stream(seed: int, counters: tuple[int, ...], device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from ``seed`` and ``counters`` (independent streams)."""
    state = np.random.SeedSequence([seed, *counters]).generate_state(2, np.uint32)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(state[0]) << 31 ^ int(state[1]))
    return generator


@dataclass(frozen=True)
class LatentDraw:
    """Inputs of one generator call: ``z``, the mixing latent and cutoff, per-layer noise maps."""

    z: torch.Tensor  # [n, z_dim]
    z_mix: torch.Tensor  # [n, z_dim]
    cutoff: int  # first ws from z, the rest from z_mix; num_ws = no mixing
    noise: dict[str, torch.Tensor]  # layer name -> [n, 1, r, r]

    def head(self, n: int) -> LatentDraw:
        """The first ``n`` samples (path length regularization's shrunk batch)."""
        return LatentDraw(self.z[:n], self.z_mix[:n], self.cutoff, {k: v[:n] for k, v in self.noise.items()})


def draw_latents(G: Any, n: int, generator: torch.Generator, mixing_prob: float) -> LatentDraw:
    """Draw ``n`` samples' latents, one mixing decision and the noise of every layer from ``generator``."""
    device = generator.device
    z = torch.randn([n, G.z_dim], generator=generator, device=device)
    z_mix = torch.randn([n, G.z_dim], generator=generator, device=device)
    cutoff = int(torch.randint(1, max(G.num_ws, 2), [], generator=generator, device=device))
    mixed = float(torch.rand([], generator=generator, device=device)) < mixing_prob
    noise = {
        name: torch.randn([n, 1, h, w], generator=generator, device=device)
        for name, (h, w) in G.synthesis.noise_shapes().items()
    }
    return LatentDraw(z, z_mix, cutoff if mixed and G.num_ws > 1 else G.num_ws, noise)


def run_generator(G: Any, draw: LatentDraw) -> tuple[torch.Tensor, torch.Tensor]:
    """``(img [n, C, R, R], ws [n, num_ws, w_dim])`` for a draw (ws after mixing, as the official loss)."""
    ws = G.mapping(draw.z, None)  # [n, num_ws, w_dim]
    if draw.cutoff < G.num_ws:
        ws = mix_styles(ws, G.mapping(draw.z_mix, None), draw.cutoff)
    img = G.synthesis(ws, noise_inputs=draw.noise)
    return img, ws
