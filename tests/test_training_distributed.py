"""Two CPU processes (gloo) train the same networks as one process with the same global minibatch.

The single process runs two rounds of ``batch_gpu`` images per phase (gradient accumulation); the two
processes run one round each and average gradients with one all-reduce per phase. Random draws are keyed by
(seed, step, phase, chunk), so both see the same latents, noise and mixing; only the order of float
additions differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sg2datasets.labelled import write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes
from sg2model import load_network
from sg2model.training import Trainer, TrainingOptions, train
from tests.helpers.training import TINY_TRAINING

TINY: dict[str, Any] = {
    "config": "F",
    "kimg": 0.016,  # two steps: every phase at step 0, main phases and EMA again at step 1
    **TINY_TRAINING,
}


@pytest.mark.timeout(300)
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    images, attributes = make_shapes(32, resolution=16, seed=4)
    data = tmp_path / "shapes.zip"
    write_labelled_zip(data, images, attributes, ATTRIBUTES)
    single = Trainer(TrainingOptions(data=str(data), out=str(tmp_path / "one"), batch_gpu=4, **TINY))
    assert single.rounds == 2
    single.run()
    train(TrainingOptions(data=str(data), out=str(tmp_path / "two"), gpus=2, **TINY))
    bundle = load_network(tmp_path / "two" / "network-snapshot-000000k016.sg2")
    for name in ("G", "D", "G_ema"):
        mine, theirs = getattr(single, name).state_dict(), getattr(bundle, name).state_dict()
        for key, value in mine.items():
            # Same numbers up to float32 summation order (weights are O(1)-O(100)).
            assert (value - theirs[key]).abs().max() <= 1e-5 * (1 + value.abs().max()), (name, key)
    log = (tmp_path / "two" / "log.jsonl").read_text()
    assert '"event": "tick"' in log
