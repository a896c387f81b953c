"""``sg2eval pr --real SRC --fake SRC``: improved precision and recall (see docs/metrics.md)."""

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


@click.command("pr")
@pair_options
@run_options("vgg16-nv")
@click.option("--k", type=Checked("k"), default=3, show_default=True, help="Neighbourhood size.")
@click.option(
    "--distance-dtype",
    type=click.Choice(["float32", "float16"]),
    default="float32",
    show_default=True,
    help="float16 reproduces the official code's half-precision distances.",
)
@click.option("--row-batch", type=Checked("row_batch"), default=10_000, show_default=True)
@click.option("--col-batch", type=Checked("col_batch"), default=10_000, show_default=True)
@json_option
def pr_command(**params: Any) -> None:
    """Precision and recall of --fake against --real (VGG16 fc2 features, k-NN manifolds)."""
    from sg2eval.api import precision_recall
    from sg2eval.cli.project import echo_warnings

    check_outputs({"--json": params["json_path"]}, run_folders(params))
    with echo_warnings():  # e.g. float16 distances that overflowed and were recomputed in float32
        result = precision_recall(
            params["real"],
            params["fake"],
            num=params["num"],
            num_real=params["num_real"],
            num_fake=params["num_fake"],
            k=params["k"],
            distance_dtype=params["distance_dtype"],
            row_batch=params["row_batch"],
            col_batch=params["col_batch"],
            **run_kwargs(params),
        )
    emit_result(result, params["json_path"])
