"""``sg2eval datasets``: make the built-in labelled dataset (see docs/separability.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from sg2eval.cli.common import Checked, check_outputs


@click.group("datasets")
def datasets() -> None:
    """Prepare datasets: the procedural labelled shapes dataset."""


@datasets.command("make-shapes")
@click.option("--num", type=Checked("num"), default=10_000, show_default=True, help="Number of images.")
@click.option(
    "--res",
    "resolution",
    type=Checked("shapes_resolution"),
    default=32,
    show_default=True,
    help="Image resolution.",
)
@click.option(
    "--seed", type=Checked("seed"), default=0, show_default=True, help="Image i depends on (seed, i) only."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .zip.")
def make_shapes_command(num: int, resolution: int, seed: int, out: Path) -> None:
    """Write NUM procedural shape images with 11 binary attributes as an image zip with labels.

    The zip holds PNGs in stylegan2-ada's layout, dataset.json (labels as 0/1 vectors) and attrs.csv.
    """
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES, make_shapes

    check_outputs({"--out": out})
    start = time.perf_counter()
    images, attributes = make_shapes(num, resolution, seed)
    meta = {"generator": "sg2datasets.shapes", "num": num, "resolution": resolution, "seed": seed}
    write_labelled_zip(out, images, attributes, ATTRIBUTES, meta)
    click.echo(
        f"wrote {num} images {resolution}x{resolution} with {len(ATTRIBUTES)} attributes to {out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
