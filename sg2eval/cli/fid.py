"""``sg2eval fid --real SRC --fake SRC``: Fréchet Inception Distance (see docs/metrics.md)."""

from __future__ import annotations

from typing import Any

import click

from sg2eval.cli.common import (
    check_outputs,
    emit_result,
    json_option,
    pair_options,
    run_folders,
    run_kwargs,
    run_options,
)
from sg2eval.metrics.fid import COVARIANCES
from sg2eval.metrics.linalg import SQRTM_METHODS


@click.command("fid")
@pair_options
@run_options("inception-v3-tf")
@click.option(
    "--covariance",
    type=click.Choice(COVARIANCES),
    default="unbiased",
    show_default=True,
    help="unbiased: N-1 as NVlabs' TF fid50k; biased: N as stylegan2-ada-pytorch.",
)
@click.option("--sqrtm", type=click.Choice(SQRTM_METHODS), default="eigh", show_default=True)
@json_option
def fid_command(**params: Any) -> None:
    """FID between --real and --fake (Inception-v3 pool3 features, float64 statistics)."""
    from sg2eval.api import fid

    check_outputs({"--json": params["json_path"]}, run_folders(params))
    result = fid(
        params["real"],
        params["fake"],
        num=params["num"],
        num_real=params["num_real"],
        num_fake=params["num_fake"],
        covariance=params["covariance"],
        sqrtm=params["sqrtm"],
        **run_kwargs(params),
    )
    emit_result(result, params["json_path"])
