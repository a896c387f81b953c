"""``sg2eval features SRC --out F.npz``: save a source's detector features for later metric runs."""

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


@click.command("features")
@click.argument("source", metavar="SRC")
@click.option("--out", required=True, metavar="F.npz", help="Features file to write (.npz).")
@click.option("--num", type=NUM, default=None, help="First N images, or 'all' [all; 50000 generated].")
@run_options("inception-v3-tf")
def features_command(**params: Any) -> None:
    """Compute detector features of SRC and write them to --out; pass that file as --real/--fake later."""
    from sg2eval.api import compute_features
    from sg2eval.errors import Sg2evalError
    from sg2eval.features import write_features_file

    if not str(params["out"]).lower().endswith(".npz"):
        raise Sg2evalError(f"--out {params['out']} must end in .npz")
    check_outputs({"--out": params["out"]}, run_folders(params))
    found = compute_features(params["source"], num=params["num"], **run_kwargs(params))
    if not main_process():
        return
    path = write_features_file(params["out"], found)
    click.echo(f"wrote {found.features.shape[0]} x {found.features.shape[1]} features to {path}")


features_command.help = f"{features_command.help}\n\nSRC: {SOURCE_HELP}."
