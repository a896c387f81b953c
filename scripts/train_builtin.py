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


def make_data(work: Path, num: int = NUM_IMAGES, seed: int = SEED, name: str = "shapes32.zip") -> Path:
    """Built-in shapes data as ``sg2eval datasets make-shapes --num N --res 32 --seed S`` writes it
    (by default the GAN's training set)."""
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes

    out = work / name
    if not out.is_file():
        work.mkdir(parents=True, exist_ok=True)
        images, attributes = make_shapes(num, RESOLUTION, seed)
        meta = {"generator": "sg2datasets.shapes", "num": num, "resolution": RESOLUTION, "seed": seed}
        write_labelled_zip(out, images, attributes, ATTRIBUTES, meta)
    return out


def train_gan(work: Path, kimg: float, run_name: str = "gan", fork: str | None = None,
              gamma: float | None = None) -> Path:
    """Train (or resume) the GAN run in ``work/<run_name>`` up to ``kimg``. A new run with ``fork`` continues
    the run ``work/<fork>`` from its last checkpoint (weights, optimizer state, data order), with R1
    ``gamma`` changed when given."""
    from sg2model.training import TrainingOptions, train

    run = work / run_name
    if (run / "checkpoint.json").is_file():
        resume: str | None = str(run)
    else:
        resume = str(work / fork) if fork else None
    data = str(make_data(work))
    settings = {**GAN_OPTIONS, **({"gamma": gamma} if gamma is not None else {})}
    options = TrainingOptions(data=data, out=str(run), kimg=kimg, resume=resume, **settings)
    return train(options)


# The attribute classifier set (separability): one shared multi-head network, small, trained on 40 000 images
# of their own (seed 2; not the GAN's training images). With 150 000 images shown and channel_max 64 the
# square-vs-circle head stayed at 65% held-out accuracy; these settings are the second attempt.
CLASSIFIER_DATA = {"num": 40_000, "seed": 2, "name": "shapes32-classifiers.zip"}
CLASSIFIER_OPTIONS: dict[str, Any] = {
    "total_images": 300_000,
    "batch_size": 32,
    "lr": 2e-3,
    "channel_base": 512,
    "channel_max": 128,
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
    data = make_data(work, **CLASSIFIER_DATA)  # type: ignore[arg-type]
    report = train_classifiers(data, out, config=TrainConfig(**CLASSIFIER_OPTIONS))
    print({k: round(v, 3) for k, v in report.accuracy.items()})
    return out


def collect(work: Path, early_kimg: float, final_kimg: float | None, final_run: str = "gan") -> Path:
    """Copy the chosen snapshots (G_ema only; the early one from ``work/gan``, the final one from
    ``work/<final_run>``), detectors and logs into the assets folder; write MANIFEST."""
    import shutil

    from sg2eval.builtin import paths
    from sg2model import load_network, save_network
    from sg2model.io.tf_convert import render_fingerprint

    def snapshots(run: Path) -> dict[float, str]:  # kimg -> file
        events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        return {e["kimg"]: e["network"] for e in events if e["event"] == "snapshot"}

    def nearest(found: dict[float, str], kimg: float | None) -> float:
        return max(found) if kimg is None else min(found, key=lambda k: abs(k - kimg))

    out = paths.ASSETS  # everything but the hand-written TRAINING.md is recreated
    for old in out.iterdir() if out.exists() else ():
        if old.name != "TRAINING.md":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    notes: dict[str, dict[str, object]] = {}
    runs = {paths.EARLY_NETWORK: (work / "gan", early_kimg),
            paths.FINAL_NETWORK: (work / final_run, final_kimg)}
    for name, (run, wanted) in runs.items():
        found = snapshots(run)
        kimg = nearest(found, wanted)
        snapshot = found[kimg]
        bundle = load_network(run / snapshot)
        meta = {**bundle.meta, "kimg": kimg, "run": f"scripts/train_builtin.py gan --run {run.name}",
                "snapshot": snapshot}
        save_network(out / name, G_ema=bundle.G_ema, **meta)
        shipped = load_network(out / name).generator  # the fingerprint 'sg2eval info --verify' checks
        notes[name] = {"kimg": kimg, "snapshot": f"{run.name}/{snapshot}",
                       "fingerprint": render_fingerprint(shipped)}
        grid = snapshot.replace("network-snapshot-", "fakes-").replace(".sg2", ".png")
        shutil.copy(run / grid, out / name.replace(".sg2", "-samples.png"))
    for run in dict.fromkeys((work / "gan", work / final_run)):  # the first run, then a fork of it if any
        suffix = "" if run.name == "gan" else f"-{run.name}"
        shutil.copy(run / "log.jsonl", out / f"training-log-gan{suffix}.jsonl")
        shutil.copy(run / "options.json", out / f"training-options-gan{suffix}.json")
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
    parser.add_argument("--run", default="gan", help="gan: run folder in --work; collect: final run")
    parser.add_argument("--fork", default=None, help="gan: start --run from this run's last checkpoint")
    parser.add_argument("--gamma", type=float, default=None, help="gan: R1 gamma instead of GAN_OPTIONS'")
    args = parser.parse_args()
    if args.step == "data":
        print(make_data(args.work))
    elif args.step == "gan":
        print(train_gan(args.work, args.kimg, args.run, args.fork, args.gamma))
    elif args.step == "detectors":
        print(train_detectors(args.work))
    elif args.step == "classifiers":
        print(train_classifier_set(args.work))
    elif args.step == "collect":
        print(collect(args.work, args.early_kimg, args.final_kimg, args.run))


if __name__ == "__main__":
    main()
