"""``sg2eval features SRC --out F.npz``: save a source's detector features for later metric runs, or its FID
statistics in the format of pytorch-fid, clean-fid or torch-fidelity (``--format``; docs/interop.md)."""

from __future__ import annotations

from typing import Any

import click

from sg2eval.cli.common import (
    NUM,
    SOURCE_HELP,
    check_outputs,
    main_process,
    run_folders,
    run_kwargs,
    run_options,
)

FORMATS = ("sg2eval", "pytorch-fid", "clean-fid", "torch-fidelity")


@click.command("features")
@click.argument("source", metavar="SRC")
@click.option("--out", required=True, metavar="FILE", help="File to write (.npz; torch-fidelity: .pt).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="sg2eval",
    show_default=True,
    help="sg2eval: features [N, D]; the others: mean and covariance as that tool writes them.",
)
@click.option("--num", type=NUM, default=None, help="First N images, or 'all' [all; 50000 generated].")
@run_options("inception-v3-tf")
def features_command(**params: Any) -> None:
    """Compute detector features of SRC and write them to --out; pass that file as --real/--fake later."""
    from sg2eval.api import compute_features
    from sg2eval.errors import Sg2evalError
    from sg2eval.features import moments_of, write_features_file
    from sg2eval.stats_formats import check_writable, write_stats_file

    out, fmt = params["out"], params["fmt"]
    if fmt == "sg2eval" and not str(out).lower().endswith(".npz"):
        raise Sg2evalError(f"--out {out} must end in .npz")
    if fmt != "sg2eval":
        check_writable(out, fmt, None)  # the name, before any work
    check_outputs({"--out": out}, run_folders(params))
    found = compute_features(params["source"], num=params["num"], **run_kwargs(params))
    if not main_process():
        return
    shape = f"{found.features.shape[0]} x {found.features.shape[1]}"
    if fmt == "sg2eval":
        click.echo(f"wrote {shape} features to {write_features_file(out, found)}")
        return
    moments = moments_of(found)
    written = write_stats_file(out, moments.moments, found.provenance, fmt, found.features)
    click.echo(f"wrote {fmt} statistics of {shape} features to {', '.join(map(str, written))}")


features_command.help = f"{features_command.help}\n\nSRC: {SOURCE_HELP}."
