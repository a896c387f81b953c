"""Create every asset shipped in ``sg2eval/builtin/assets`` (the built-in default network and its detectors).

Steps (each one a subcommand; ``all`` runs them in order)::

    python scripts/train_builtin.py data        # the built-in shapes dataset, 32x32, 10 000 images, seed 0
    python scripts/train_builtin.py gan         # config-E-style G/D, small channels, our trainer
    python scripts/train_builtin.py detectors   # the in-domain feature network (FD, P&R, perceptual distance)
    python scripts/train_builtin.py classifiers # the 11 attribute classifiers (separability)
    python scripts/train_builtin.py collect     # copy the chosen snapshots and logs into the assets folder

The work folder is ``--work`` (default ``./builtin-run``). The exact commands that made the shipped files are
recorded in ``sg2eval/builtin/assets/TRAINING.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SEED = 0
NUM_IMAGES = 10_000
RESOLUTION = 32

# The GAN run: config E's networks (output-skip G, residual D, demodulation, lazy R1, style mixing) with small
# channel counts (128 at 4x4 halving per resolution to 16 at 32x32) so that it trains on two shared CPU cores,
# and a short G_ema half-life for a short run. Path length regularization is off (as in stylegan2-ada's small-
# data configs) and R1 gamma is 1: a first run with gamma 0.05 and PL on collapsed to pale blurs after 4 kimg.
GAN_OPTIONS: dict[str, Any] = {
    "config": "E",
    "batch": 32,
    "gamma": 1.0,
    "pl_weight": 0.0,
    "channel_base": 512,
    "channel_max": 128,
    "map_layers": 2,
    "w_dim": 128,
    "ema_kimg": 2.0,
    "lr": 0.002,
    "tick_kimg": 1.0,
    "snapshot_kimg": 2.0,
    "seed": SEED,
    "device": "cpu",
    "gpus": 2,  # two single-threaded data-parallel CPU processes (gloo): no thread stalls on shared cores
}


def make_data(work: Path) -> Path:
    """The built-in dataset as ``sg2eval datasets make-shapes`` writes it."""
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes

    out = work / "shapes32.zip"
    if not out.is_file():
        work.mkdir(parents=True, exist_ok=True)
        images, attributes = make_shapes(NUM_IMAGES, RESOLUTION, SEED)
        meta = {"generator": "sg2datasets.shapes", "num": NUM_IMAGES, "resolution": RESOLUTION, "seed": SEED}
        write_labelled_zip(out, images, attributes, ATTRIBUTES, meta)
    return out


def train_gan(work: Path, kimg: float) -> Path:
    """Train (or resume) the GAN run in ``work/gan`` up to ``kimg``."""
    from sg2model.training import TrainingOptions, train

    run = work / "gan"
    resume = str(run) if (run / "checkpoint.json").is_file() else None
    data = str(make_data(work))
    options = TrainingOptions(data=data, out=str(run), kimg=kimg, resume=resume, **GAN_OPTIONS)
    return train(options)


# The attribute classifier set (separability): one shared multi-head network, small, short.
CLASSIFIER_OPTIONS: dict[str, Any] = {
    "total_images": 16_000,
    "batch_size": 32,
    "lr": 2e-3,
    "channel_base": 512,
    "channel_max": 64,
    "multi_head": True,
    "seed": SEED,
}


def train_detectors(work: Path) -> Path:
    """The in-domain feature network (sg2eval.builtin.train_indomain, default settings)."""
    from sg2eval.builtin.train_indomain import train_feature_net

    out = work / "shapes-features.safetensors"
    report = train_feature_net(out)
    with open(work / "detectors-log.jsonl", "a") as log:
        log.write(json.dumps({"event": "held_out", "network": out.name, **report}) + "\n")
    print({k: round(v, 3) for k, v in report.items()})
    return out


def train_classifier_set(work: Path) -> Path:
    """The attribute classifiers, as ``sg2eval classifiers train`` would make them."""
    from sg2eval.classifiers.train import TrainConfig, train_classifiers

    out = work / "shapes-classifiers"
    report = train_classifiers(make_data(work), out, config=TrainConfig(**CLASSIFIER_OPTIONS))
    print({k: round(v, 3) for k, v in report.accuracy.items()})
    return out


def collect(work: Path, early_kimg: float, final_kimg: float | None) -> Path:
    """Copy the chosen snapshots (G_ema only), detectors and logs into the assets folder; write MANIFEST."""
    import shutil

    from sg2eval.builtin import paths
    from sg2model import load_network, save_network

    run = work / "gan"
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    snapshots = {e["kimg"]: e["network"] for e in events if e["event"] == "snapshot"}  # kimg -> file

    def nearest(kimg: float | None) -> float:
        return max(snapshots) if kimg is None else min(snapshots, key=lambda k: abs(k - kimg))

    out = paths.ASSETS  # everything but the hand-written TRAINING.md is recreated
    for old in out.iterdir() if out.exists() else ():
        if old.name != "TRAINING.md":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    notes: dict[str, dict[str, object]] = {}
    chosen = ((paths.EARLY_NETWORK, nearest(early_kimg)), (paths.FINAL_NETWORK, nearest(final_kimg)))
    for name, kimg in chosen:
        snapshot = snapshots[kimg]
        bundle = load_network(run / snapshot)
        meta = {**bundle.meta, "kimg": kimg, "run": "scripts/train_builtin.py gan", "snapshot": snapshot}
        save_network(out / name, G_ema=bundle.G_ema, **meta)
        notes[name] = {"kimg": kimg, "snapshot": snapshot}
        grid = snapshot.replace("network-snapshot-", "fakes-").replace(".sg2", ".png")
        shutil.copy(run / grid, out / name.replace(".sg2", "-samples.png"))
    shutil.copy(run / "log.jsonl", out / "training-log-gan.jsonl")
    shutil.copy(run / "options.json", out / "training-options-gan.json")
    shutil.copy(work / "shapes-features.safetensors", out / paths.FEATURES_FILE)
    shutil.copy(work / "detectors-log.jsonl", out / "training-log-detectors.jsonl")
    shutil.copytree(work / "shapes-classifiers", out / paths.CLASSIFIERS_DIR)
    paths.write_manifest(out, notes)
    return out


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("step", choices=["data", "gan", "detectors", "classifiers", "collect"])
    parser.add_argument("--work", type=Path, default=Path("builtin-run"))
    parser.add_argument("--kimg", type=float, default=400.0, help="GAN training length (stop it any time)")
    parser.add_argument("--early-kimg", type=float, default=2.0, help="collect: weaker snapshot (nearest)")
    parser.add_argument("--final-kimg", type=float, default=None, help="collect: the final one [latest]")
    args = parser.parse_args()
    if args.step == "data":
        print(make_data(args.work))
    elif args.step == "gan":
        print(train_gan(args.work, args.kimg))
    elif args.step == "detectors":
        print(train_detectors(args.work))
    elif args.step == "classifiers":
        print(train_classifier_set(args.work))
    elif args.step == "collect":
        print(collect(args.work, args.early_kimg, args.final_kimg))


if __name__ == "__main__":
    main()
