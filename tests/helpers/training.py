"""Options of the tiny training runs shared by the training tests (seconds per step on one CPU core)."""

from __future__ import annotations

from typing import Any

#: ``TrainingOptions`` keyword arguments: 16-d latents, at most 16 channels, 2 mapping layers, both
#: regularization intervals short enough to run within a few steps.
TINY_TRAINING: dict[str, Any] = {
    "batch": 8,
    "channel_base": 128,
    "channel_max": 16,
    "map_layers": 2,
    "w_dim": 16,
    "g_reg_interval": 2,
    "d_reg_interval": 3,
    "progress": False,
    "device": "cpu",
}
