"""StyleGAN2 training: configs B–F as switches, lazy R1 and path length regularization, EMA, checkpoints
with exact resume, snapshot metrics and data-parallel runs (docs/training.md).

```python
from sg2model.training import TrainingOptions, train
train(TrainingOptions(data="shapes.zip", out="runs/e32", config="E", kimg=500, batch=32,
                      channel_base=4096, channel_max=128, map_layers=2))
```
"""

from __future__ import annotations

from sg2model.training.loop import Trainer, train
from sg2model.training.options import CONFIGS, TrainingConfig, TrainingOptions, get_config, register_config
from sg2model.training.snapshot_metrics import (
    SNAPSHOT_METRICS,
    MetricContext,
    MetricRecord,
    SnapshotMetric,
    register_metric,
)

__all__ = [
    "CONFIGS",
    "SNAPSHOT_METRICS",
    "MetricContext",
    "MetricRecord",
    "SnapshotMetric",
    "Trainer",
    "TrainingConfig",
    "TrainingOptions",
    "get_config",
    "register_config",
    "register_metric",
    "train",
]
