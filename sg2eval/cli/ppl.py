"""``sg2eval ppl``: perceptual path length of a generator network (see docs/ppl.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from sg2eval.cli.common import default_device, lpips_option
from sg2eval.ppl_presets import CONFIG_FIELDS, DEFAULT_PRESET, PRESETS, PPLConfig, preset_config
from sg2eval.result import Result
from sg2model.core.files import atomic_open, write_json


def write_per_image_csv(result: Result, path: str | Path) -> None:
    """One row per pair: ``index, t, distance, kept`` (kept: inside the 1st–99th percentile range)."""
    with atomic_open(path, "w") as handle:
        pd.DataFrame(result.per_item).to_csv(handle, index=False)


def write_figures(
    result: Result, G: Any, config: PPLConfig, seed: int, out_dir: Path, device: str, count: int = 8
) -> list[Path]:
    """StyleGAN2 Figure 5 (histogram, <= p10 and >= p90 in orange) and Figure 4 (random examples with low and
    high PPL, rendered at their t) for this run."""
    from sg2eval.metrics.ppl import percentile_examples, render_samples
    from sg2eval.plots import save_histogram
    from sg2model.core.images import save_image_grid

    scores = np.asarray(result.per_item["distance"])
    p10, p90 = np.percentile(scores, [10, 90])
    hist = out_dir / "ppl_histogram.png"
    kept = scores[np.asarray(result.per_item["kept"])]
    save_histogram(
        kept,
        hist,
        xlabel="per-image PPL",
        title=f"PPL = {result.value:.1f} ({len(scores)} pairs, 1-99 percentile range shown)",
        highlight=[(float(kept.min()), float(p10)), (float(p90), float(kept.max()))],
    )
    written = [hist]
    for name, indices in zip(
        ("low", "high"), percentile_examples(scores, count=count, seed=seed), strict=True
    ):
        images = render_samples(G, config, seed, [int(i) for i in indices], device=device)
        path = out_dir / f"ppl_{name}.png"
        save_image_grid(images, path, columns=count)
        written.append(path)
    return written


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
@click.option("--num", "num_samples", type=int, default=None, help="Number of pairs [preset: 50000].")
@click.option("--epsilon", type=float, default=None, help="Path step [1e-4].")
@click.option("--crop/--no-crop", default=None, help="StyleGAN (v1) face crop before the distance.")
@click.option(
    "--downsample-before-crop/--crop-before-downsample",
    default=None,
    help="stylegan2-ada-pytorch's order (1024 + crop -> 128x128) instead of NVlabs' (-> 256x256).",
)
@click.option("--noise-group", type=int, default=None, help="Pairs sharing one noise draw [1; official 4].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=4, show_default=True, help="Pairs per generator call.")
@lpips_option
@click.option("--lpips-weights", default=None, help="vgg16.pt (vgg16-nv) or vgg16-397923af.pth (lpips-vgg).")
@click.option("--device", default=None, help="torch device [cuda if available, else cpu].")
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
    device: str | None,
    per_image: str | None,
    json_out: str | None,
    plots_dir: str | None,
) -> None:
    """Perceptual path length (StyleGAN journal Sec. 4.1; StyleGAN2 Table 1 'Path length')."""
    from sg2eval.metrics.ppl import compute_ppl, resolve_distance
    from sg2model import load_network

    params = click.get_current_context().params
    config = preset_config(preset, **{name: params[name] for name in CONFIG_FIELDS})
    dev = device or default_device()
    distance = resolve_distance(lpips_name, lpips_weights, dev)
    bundle = load_network(network)
    G = bundle.generator.to(dev).eval()
    result = compute_ppl(G, distance, config, seed=seed, batch_size=batch_size, device=dev, progress=True)
    result.params["preset"] = preset
    result.provenance["network"] = {
        "path": str(network),
        "sha256": bundle.sha256,
        "source_format": bundle.source_format,
    }
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
        for path in write_figures(result, G, config, seed, Path(plots_dir), dev):
            click.echo(f"wrote {path}")
