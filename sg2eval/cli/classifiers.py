"""``sg2eval classifiers``: train attribute classifiers and inspect classifier sets (docs/separability.md)."""

from __future__ import annotations

from pathlib import Path

import click

from sg2eval.cli.common import Checked


@click.group("classifiers")
def classifiers() -> None:
    """Attribute classifiers for the linear separability metric."""


@classifiers.command("train")
@click.option(
    "--data", required=True, type=click.Path(exists=True, path_type=Path), help="Image zip or folder."
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    default=None,
    help="Attribute labels (CSV 0/1 or -1/1, or CelebA list_attr) [attrs.csv inside --data].",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output set folder."
)
@click.option(
    "--images",
    "total_images",
    type=Checked("total_images"),
    default=150_000,
    show_default=True,
    help="Training images per network (paper: 150 000).",
)
@click.option("--batch", "batch_size", type=Checked("batch_size"), default=8, show_default=True)
@click.option("--lr", type=Checked("lr"), default=1e-3, show_default=True)
@click.option(
    "--channel-base", type=int, default=16384, show_default=True, help="Channels: min(base/res, max)."
)
@click.option("--channel-max", type=int, default=512, show_default=True)
@click.option(
    "--architecture", type=click.Choice(["resnet", "orig", "skip"]), default="resnet", show_default=True
)
@click.option("--attributes", default=None, help="Comma-separated subset of the label columns [all].")
@click.option("--held-out", type=float, default=0.1, show_default=True, help="Share kept out for accuracy.")
@click.option("--multi-head", is_flag=True, help="One network with one logit per attribute (faster).")
@click.option("--seed", type=Checked("seed"), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def train(
    data: Path,
    labels: Path | None,
    out: Path,
    total_images: int,
    batch_size: int,
    lr: float,
    channel_base: int,
    channel_max: int,
    architecture: str,
    attributes: str | None,
    held_out: float,
    multi_head: bool,
    seed: int,
    device: str,
) -> None:
    """Train one classifier per attribute (StyleGAN's D without minibatch std) into a classifier set."""
    from sg2eval.classifiers.train import TrainConfig, train_classifiers

    config = TrainConfig(
        total_images=total_images,
        batch_size=batch_size,
        lr=lr,
        channel_base=channel_base,
        channel_max=channel_max,
        architecture=architecture,
        held_out=held_out,
        seed=seed,
        multi_head=multi_head,
        attributes=tuple(a.strip() for a in attributes.split(",")) if attributes else None,
    )
    report = train_classifiers(data, out, labels, config, device=device, progress=True)
    for name, acc in report.accuracy.items():
        click.echo(f"{name:24s} held-out accuracy {acc:.4f}")
    click.echo(
        f"wrote {len(report.accuracy)} classifiers to {report.folder} "
        f"({report.num_train} train / {report.num_held_out} held out, {report.elapsed_s:.0f} s)"
    )


@classifiers.command("info")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def info(folder: Path) -> None:
    """Show a classifier set's attributes, files and held-out accuracy."""
    import pandas as pd

    from sg2eval.classifiers.classifier_set import load_classifier_set

    loaded = load_classifier_set(folder)
    described = loaded.describe()
    click.echo(f"{folder}: input {described.get('input_resolution')}x{described.get('input_resolution')}")
    table = pd.DataFrame(described["attributes"]).drop(columns=["sha256"], errors="ignore")
    click.echo(table.to_string(index=False))
