"""``sg2eval separability``: linear separability of a network's W or Z space (docs/separability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sg2eval.cli.common import Checked, check_outputs, main_process


@click.command("separability")
@click.option(
    "--network",
    "network",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Generator file (.sg2, stylegan2-ada .pkl or official TF .pkl).",
)
@click.option(
    "--classifiers",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Classifier-set folder (manifest.json, or the official celebahq-classifier-*.pkl files).",
)
@click.option(
    "--space",
    type=click.Choice(["w", "z", "both"]),
    default="w",
    show_default=True,
    help="Latent space the SVMs read: the last w, or z; 'both' reuses the same images.",
)
@click.option("--num", type=Checked("num"), default=200_000, show_default=True, help="Generated images.")
@click.option(
    "--num-keep",
    type=Checked("num_keep"),
    default=None,
    help="Most confident samples kept per attribute [num/2].",
)
@click.option(
    "--batch",
    "batch_size",
    type=Checked("batch_size"),
    default=16,
    show_default=True,
    help="Generation batch size.",
)
@click.option(
    "--seed", type=Checked("seed"), default=0, show_default=True, help="Seed of z, noise and SVM shuffling."
)
@click.option(
    "--trunc",
    "truncation_psi",
    type=Checked("truncation"),
    default=1.0,
    show_default=True,
    help="Truncation psi.",
)
@click.option(
    "--noise-mode", type=click.Choice(["random", "const", "none"]), default="random", show_default=True
)
@click.option("--workers", type=Checked("workers"), default=None, help="Parallel SVM fits [CPUs available].")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result (with per-attribute entropies) as JSON.",
)
def separability(
    network: Path,
    classifiers: Path,
    space: str,
    num: int,
    num_keep: int | None,
    batch_size: int,
    seed: int,
    truncation_psi: float,
    noise_mode: str,
    workers: int | None,
    device: str,
    json_out: Path | None,
) -> None:
    """Linear separability (StyleGAN Sec. 4.2): 2 ** sum of H(Y|X) bits over the attributes."""
    from sg2eval.metrics.separability import separability as compute
    from sg2model.core.files import write_json

    check_outputs({"--json": json_out})
    result = compute(
        network,
        classifiers,
        num=num,
        space=space,
        num_keep=num_keep,
        batch_size=batch_size,
        seed=seed,
        truncation_psi=truncation_psi,
        noise_mode=noise_mode,
        device=device,
        workers=workers,
        progress=True,
    )
    if not main_process():
        return
    table = result.per_item["entropies"]
    click.echo(table.to_string(float_format=lambda v: f"{v:.4f}"))
    for name, value in result.values.items():
        click.echo(f"{name}: {value:.4f}")
    if json_out is not None:
        payload: dict[str, Any] = result.to_dict()
        if table.index.nlevels == 2:
            payload["per_attribute"] = {
                s: table.xs(s).to_dict(orient="index") for s in table.index.get_level_values(0).unique()
            }
        else:
            payload["per_attribute"] = table.to_dict(orient="index")
        write_json(json_out, payload)
