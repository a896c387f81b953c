"""``sg2eval kid --real SRC --fake SRC``: Kernel Inception Distance (see docs/metrics.md)."""

from __future__ import annotations

from typing import Any

import click

from sg2eval.cli.common import (
    Checked,
    check_outputs,
    emit_result,
    json_option,
    pair_options,
    run_folders,
    run_kwargs,
    run_options,
)


@click.command("kid")
@pair_options
@run_options("inception-v3-tf")
@click.option(
    "--subsets", type=Checked("num_subsets"), default=100, show_default=True, help="Number of random subsets."
)
@click.option(
    "--subset-size", type=Checked("subset_size"), default=1000, show_default=True, help="Samples per subset."
)
@click.option("--subset-seed", type=int, default=2020, show_default=True, help="RandomState seed of subsets.")
@json_option
def kid_command(**params: Any) -> None:
    """KID between --real and --fake (cubic polynomial kernel MMD, torch-fidelity's subset defaults)."""
    from sg2eval.api import kid

    check_outputs({"--json": params["json_path"]}, run_folders(params))
    result = kid(
        params["real"],
        params["fake"],
        num=params["num"],
        num_real=params["num_real"],
        num_fake=params["num_fake"],
        num_subsets=params["subsets"],
        subset_size=params["subset_size"],
        subset_seed=params["subset_seed"],
        **run_kwargs(params),
    )
    emit_result(result, params["json_path"])
