"""Images generated on the fly by a network: a ``.sg2``, stylegan2-ada-pytorch or TF pickle file, or a module.

Image ``i`` (0-based) is generated from seed ``seed + i``, independently of the batch size:

- ``z = np.random.RandomState(seed + i).randn(z_dim)`` (the seed-to-z rule of stylegan2-ada-pytorch's
  ``generate.py``); for a conditional network the class is ``class_idx`` when given, else drawn from the same
  RandomState right after z (``randint(c_dim)``);
- with ``noise_mode='random'`` the per-layer noise maps of image i come from
  ``torch.Generator().manual_seed(seed + i)``, drawn in :meth:`noise_shapes` order, so the same seed gives the
  same image in any batch (the official code draws noise for a whole batch instead);
- the official evaluation defaults: no truncation (psi 1) and random noise (docs/facts.md,
  "Metrics / Common");
- float output -> uint8 exactly as the official code (:func:`sg2model.core.images.to_uint8`), after a check
  that every value is finite: a network that outputs NaN or Inf is refused, not scored as if its images were
  black or white;
- seeds are those numpy's RandomState takes, 0 .. 2**32 - 1, for every image (``seed + num - 1`` too).

The content hash is made of the network file's SHA-256 and these generation parameters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.network import NetworkHandle, NetworkLike, open_network
from sg2eval.sources.base import ImageSource
from sg2model.core.checks import SEED_MAX, check, require_finite
from sg2model.core.images import to_uint8

NOISE_MODES = ("random", "const", "none")


class NetworkSource(ImageSource):
    """Generate images from seeds with a network's generator (:func:`sg2eval.network.open_network`)."""

    kind = "network"

    def __init__(
        self,
        network: NetworkLike | NetworkHandle,
        seed: int = 0,
        truncation: float = 1.0,
        noise_mode: str = "random",
        class_idx: int | None = None,
        device: str | torch.device | None = "auto",
    ) -> None:
        if noise_mode not in NOISE_MODES:
            raise Sg2evalError(f"unknown noise mode {noise_mode!r}; use one of {', '.join(NOISE_MODES)}")
        self.network = open_network(network, device)
        self.generator: Any = self.network.generator
        self.device = self.network.device
        self.seed, self.noise_mode = check("seed", seed), noise_mode
        self.truncation = float(check("truncation", truncation))
        c_dim = int(getattr(self.generator, "c_dim", 0))
        if class_idx is not None and not 0 <= class_idx < max(c_dim, 1):
            raise Sg2evalError(f"class {class_idx} is out of range for a network with {c_dim} classes")
        if class_idx is not None and c_dim == 0:
            raise Sg2evalError("this network is unconditional; drop --class")
        self.class_idx = class_idx

    @property
    def num_available(self) -> None:
        return None

    def _latents(self, seeds: range) -> tuple[torch.Tensor, torch.Tensor | None]:
        z_dim, c_dim = int(self.generator.z_dim), int(getattr(self.generator, "c_dim", 0))
        zs, labels = [], []
        for s in seeds:
            rng = np.random.RandomState(s)
            zs.append(rng.randn(z_dim))
            if c_dim:
                labels.append(self.class_idx if self.class_idx is not None else int(rng.randint(c_dim)))
        z = torch.from_numpy(np.stack(zs)).to(self.device, torch.float32)  # [B, z_dim]
        if not c_dim:
            return z, None
        c = torch.zeros(len(seeds), c_dim, device=self.device)
        c[torch.arange(len(seeds)), torch.tensor(labels)] = 1
        return z, c

    def _noise(self, seeds: range) -> dict[str, torch.Tensor]:
        shapes = self.generator.synthesis.noise_shapes()
        maps: dict[str, list[torch.Tensor]] = {name: [] for name in shapes}
        for s in seeds:
            gen = torch.Generator().manual_seed(s)
            for name, (height, width) in shapes.items():
                maps[name].append(torch.randn(1, 1, height, width, generator=gen))
        return {name: torch.cat(tensors).to(self.device) for name, tensors in maps.items()}

    @torch.no_grad()
    def generate(self, seeds: range) -> torch.Tensor:
        """uint8 images [B, C, H, W] for the given seeds."""
        z, c = self._latents(seeds)
        noise = self._noise(seeds) if self.noise_mode == "random" else None
        images = self.generator(
            z, c, truncation_psi=self.truncation, noise_mode=self.noise_mode, noise_inputs=noise
        )
        require_finite(
            images,
            f"the images of {self.network.label} for seeds {seeds.start}..{seeds.stop - 1}",
            "the network is broken (NaN or Inf weights?); check the file or the run that wrote it",
        )
        return to_uint8(images)

    def iter_range(self, start: int, stop: int, batch_size: int) -> Iterator[np.ndarray]:
        if self.seed + stop - 1 > SEED_MAX:
            raise Sg2evalError(
                f"image {stop - 1} would use seed {self.seed + stop - 1}, above {SEED_MAX}; "
                "lower --seed or the number of images"
            )
        for first in range(start, stop, batch_size):
            seeds = range(self.seed + first, self.seed + min(first + batch_size, stop))
            yield self.generate(seeds).cpu().numpy()

    def generation_params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "truncation": self.truncation,
            "noise_mode": self.noise_mode,
            "class_idx": self.class_idx,
            "z_rule": "np.random.RandomState(seed + i).randn(z_dim)",
        }

    def content_hash(self, num: int | str | None = None) -> str:
        payload = {"network_sha256": self.network.sha256, **self.generation_params()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        network = self.network.describe()
        return {
            "kind": self.kind,
            "path": network["path"],
            "format": network["format"],
            "network_sha256": network["sha256"],
            **self.generation_params(),
        }
