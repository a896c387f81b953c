"""Two CPU processes (gloo) train the same networks as one process with the same global minibatch.

The single process runs two rounds of ``batch_gpu`` images per phase (gradient accumulation); the two
processes run one round each and average gradients with one all-reduce per phase. Random draws are keyed by
(seed, step, phase, chunk), so both see the same latents, noise and mixing; only the order of float
additions differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sg2datasets.labelled import write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes
from sg2model import load_network
from sg2model.training import Trainer, TrainingOptions, train
from tests.helpers.training import TINY_TRAINING
from tests.test_training import mean_colour

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
    metrics = {"metrics": ("fid50k_full",), "metric_detector": mean_colour, "metric_num": 8}
    one = TrainingOptions(data=str(data), out=str(tmp_path / "one"), batch_gpu=4, **TINY, **metrics)
    single = Trainer(one)
    assert single.rounds == 2
    single.run()
    train(TrainingOptions(data=str(data), out=str(tmp_path / "two"), gpus=2, **TINY, **metrics))
    bundle = load_network(tmp_path / "two" / "network-snapshot-000000k016.sg2")
    for name in ("G", "D", "G_ema"):
        mine, theirs = getattr(single, name).state_dict(), getattr(bundle, name).state_dict()
        for key, value in mine.items():
            # Same numbers up to float32 summation order (weights are O(1)-O(100)).
            assert (value - theirs[key]).abs().max() <= 1e-5 * (1 + value.abs().max()), (name, key)
    log = (tmp_path / "two" / "log.jsonl").read_text()
    assert '"event": "tick"' in log
    # Both processes measured the snapshot metric (each its share of the images, found by the entry point
    # in the spawned processes); rank 0 logged it once, with the one-process number.
    two, one = ([json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()
                 if '"event": "metric"' in line] for run in ("two", "one"))  # fmt: skip
    assert len(two) == 1 and two[0]["params"]["num_fake"] == 8
    assert two[0]["values"]["fid"] == pytest.approx(one[0]["values"]["fid"], rel=1e-3)
