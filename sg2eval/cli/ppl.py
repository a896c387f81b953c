"""``sg2eval ppl``: perceptual path length of a generator network (see docs/ppl.md)."""

from __future__ import annotations

import click

from sg2eval.cli.common import Checked, check_outputs, lpips_option, main_process
from sg2eval.ppl_presets import CONFIG_FIELDS, DEFAULT_PRESET, PRESETS, preset_config
from sg2model.core.files import write_json


@click.command("ppl")
@click.option(
    "--network", "network", required=True, help="Network file: .sg2, stylegan2-ada .pkl or TF .pkl."
)
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default=DEFAULT_PRESET,
    show_default=True,
    help="Named settings; the options below override its fields.",
)
@click.option(
    "--space", type=click.Choice(["w", "z"]), default=None, help="Interpolate in W (lerp) or Z (slerp)."
)
@click.option("--sampling", type=click.Choice(["end", "full"]), default=None, help="t = 0, or t ~ U[0, 1).")
@click.option(
    "--num", "num_samples", type=Checked("num_samples"), default=None, help="Number of pairs [preset: 50000]."
)
@click.option("--epsilon", type=Checked("epsilon"), default=None, help="Path step [1e-4].")
@click.option("--crop/--no-crop", default=None, help="StyleGAN (v1) face crop before the distance.")
@click.option(
    "--downsample-before-crop/--crop-before-downsample",
    default=None,
    help="stylegan2-ada-pytorch's order (1024 + crop -> 128x128) instead of NVlabs' (-> 256x256).",
)
@click.option(
    "--noise-group",
    type=Checked("noise_group"),
    default=None,
    help="Pairs sharing one noise draw [1; official 4].",
)
@click.option("--seed", type=Checked("seed"), default=0, show_default=True)
@click.option(
    "--batch-size", type=Checked("batch_size"), default=4, show_default=True, help="Pairs per generator call."
)
@lpips_option
@click.option("--lpips-weights", default=None, help="vgg16.pt (vgg16-nv) or vgg16-397923af.pth (lpips-vgg).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--per-image", "per_image", default=None, help="Write per-pair scores to this CSV.")
@click.option("--json", "json_out", default=None, help="Write the result as JSON.")
@click.option("--plots", "plots_dir", default=None, help="Write Figure 4/5-style PNGs into this folder.")
def ppl_command(
    network: str,
    preset: str,
    space: str | None,
    sampling: str | None,
    num_samples: int | None,
    epsilon: float | None,
    crop: bool | None,
    downsample_before_crop: bool | None,
    noise_group: int | None,
    seed: int,
    batch_size: int,
    lpips_name: str,
    lpips_weights: str | None,
    device: str,
    per_image: str | None,
    json_out: str | None,
    plots_dir: str | None,
) -> None:
    """Perceptual path length (StyleGAN journal Sec. 4.1; StyleGAN2 Table 1 'Path length')."""
    from sg2eval.metrics.ppl import compute_ppl, resolve_distance
    from sg2eval.network import open_network
    from sg2eval.ppl_figures import write_figures, write_per_image_csv

    params = click.get_current_context().params
    check_outputs({"--per-image": per_image, "--json": json_out}, {"--plots": plots_dir})
    config = preset_config(preset, **{name: params[name] for name in CONFIG_FIELDS})
    handle = open_network(network, device)
    distance = resolve_distance(lpips_name, lpips_weights, handle.device)
    result = compute_ppl(
        handle, distance, config, seed=seed, batch_size=batch_size, progress=True, preset=preset
    )
    if not main_process():
        return
    click.echo(
        f"ppl ({preset}, {config.space}/{config.sampling}, crop={config.crop}): {result.value:.4f} "
        f"± {result.values['ppl_sem']:.4f} (standard error; {result.provenance['num_kept']} of "
        f"{config.num_samples} pairs kept; LPIPS {getattr(distance, 'name', '?')})"
    )
    if per_image:
        write_per_image_csv(result, per_image)
    if json_out:
        write_json(json_out, result.to_dict())
    if plots_dir:
        for path in write_figures(result, handle, plots_dir):
            click.echo(f"wrote {path}")
