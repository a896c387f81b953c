"""``sg2eval train``: train a StyleGAN2 generator (configs B–F; see docs/training.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sg2eval.cli.common import Checked


def _metric_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


@click.command("train")
@click.option("--data", required=True, help="Training images: folder, zip or .npy/.npz (square, power of 2).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run directory.")
@click.option("--config", default="F", show_default=True, help="Table 1 config: B, C, D, E or F.")
@click.option("--resolution", type=int, default=None, help="Image resolution (checked against the data).")
@click.option("--kimg", type=float, default=25000, show_default=True, help="Train for this many kimg.")
@click.option("--batch", type=int, default=32, show_default=True, help="Global minibatch.")
@click.option("--batch-gpu", type=int, default=None, help="Images per process and round (batch/gpus).")
@click.option("--gpus", type=int, default=None, help="Processes (GPUs) on this machine.")
@click.option(
    "--gamma", type=Checked("gamma"), default=None, help="R1 gamma (default: the config's, 10; E: 100)."
)
@click.option("--mirror/--no-mirror", default=False, show_default=True, help="x-flip augmentation.")
@click.option("--resume", default=None, help="Run directory (exact continuation) or network file (weights).")
@click.option("--metrics", default="", help="Snapshot metrics, comma-separated (e.g. fid50k,ppl_wend).")
@click.option("--metric-detector", default=None, help="Detector for feature metrics (name or TorchScript).")
@click.option("--metric-num", type=int, default=None, help="Generated images per metric (quick checks).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tick", "tick_kimg", type=float, default=4, show_default=True, help="Log every N kimg.")
@click.option("--snap", "snapshot_kimg", type=float, default=200, show_default=True,
              help="Checkpoint, grid and metrics every N kimg.")
@click.option("--lr", type=float, default=0.002, show_default=True, help="Adam learning rate (G and D).")
@click.option(
    "--pl-weight", type=Checked("pl_weight"), default=None, help="Path length weight (default: the config's)."
)
@click.option("--g-reg-interval", type=int, default=None, help="Lazy path length interval (4; paper: 8).")
@click.option("--d-reg-interval", type=int, default=None, help="Lazy R1 interval (16).")
@click.option("--sn-g/--no-sn-g", default=False, show_default=True, help="Spectral norm in G (Table 4).")
@click.option("--sn-d/--no-sn-d", default=False, show_default=True, help="Spectral norm in D (Table 4).")
@click.option("--channel-base", type=int, default=None, help="Override the preset's channel base.")
@click.option("--channel-max", type=int, default=None, help="Override the preset's channel maximum (512).")
@click.option("--map-layers", type=int, default=None, help="Mapping network layers (preset: 8).")
@click.option("--w-dim", type=int, default=None, help="Latent and style width, z_dim = w_dim (preset: 512).")
@click.option("--device", default="auto", show_default=True, help="'auto', 'cpu', 'cuda' or 'cuda:N'.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Live display.")
def train_command(data: str, out: Path, metrics: str, **options: object) -> None:
    """Train a StyleGAN2 generator on DATA, writing snapshots, grids and log.jsonl to OUT.

    \b
    sg2eval train --data shapes.zip --out runs/e32 --config E --kimg 500 \\
        --channel-base 4096 --channel-max 128 --map-layers 2 --metrics fid50k --metric-num 5000
    torchrun --nproc-per-node 8 -m sg2eval.cli.train --data ffhq.zip --out runs/f --config F
    """
    from sg2model.training import TrainingOptions, train

    run = train(TrainingOptions(data=data, out=str(out), metrics=_metric_names(metrics), **options))  # type: ignore[arg-type]
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"training finished; snapshots and log.jsonl in {run}")


if __name__ == "__main__":  # torchrun -m sg2eval.cli.train ...: errors as one line, exit status 2
    import sys

    from sg2eval.cli.main import cli

    cli(["train", *sys.argv[1:]], prog_name="sg2eval")
