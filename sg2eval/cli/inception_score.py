"""``sg2eval is SRC``: Inception Score of one source (see docs/interop.md)."""

from __future__ import annotations

from typing import Any

import click

from sg2eval.cli.common import NUM, SOURCE_HELP, emit_result, json_option, run_kwargs, run_options


@click.command("is")
@click.argument("source", metavar="SRC")
@click.option("--num", type=NUM, default=None, help="First N images, or 'all' [all; 50000 generated].")
@click.option("--splits", type=int, default=10, show_default=True, help="Chunks the score is averaged over.")
@click.option(
    "--shuffle-seed",
    type=int,
    default=None,
    help="Permute the images with RandomState(seed) first (torch-fidelity: 2020) [keep their order].",
)
@run_options("inception-v3-tf-logits")
@json_option
def is_command(**params: Any) -> None:
    """Inception Score of SRC on the unbiased logits of the TF Inception (is, is_std over --splits)."""
    from sg2eval.api import inception_score

    result = inception_score(
        params["source"],
        num=params["num"],
        splits=params["splits"],
        shuffle_seed=params["shuffle_seed"],
        **run_kwargs(params),
    )
    emit_result(result, params["json_path"])


is_command.help = f"{is_command.help}\n\nSRC: {SOURCE_HELP}."
