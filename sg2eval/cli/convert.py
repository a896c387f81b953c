"""``sg2eval convert NET.pkl --out NET.sg2``: any network file sg2model reads -> our ``.sg2`` format.

The converted file keeps the source's provenance (format, SHA-256, TF build functions) and a render
fingerprint of the generator (fixed seeds, constant noise) so that a later load can be checked with
``sg2eval info NET.sg2 --verify``. See docs/official_networks.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from sg2eval.errors import Sg2evalError
from sg2model.io import load_network, save_network
from sg2model.io.tf_convert import render_fingerprint


@click.command("convert")
@click.argument("network", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file (.sg2)."
)
@click.option("--no-fingerprint", is_flag=True, help="Skip rendering the verification images.")
def convert(network: Path, out: Path, no_fingerprint: bool) -> None:
    """Convert NETWORK (TF pickle, stylegan2-ada-pytorch pickle or .sg2) to our .sg2 format."""
    if out.suffix != ".sg2":
        raise Sg2evalError(f"--out {out} should end in .sg2 (our network format)")
    bundle = load_network(network)
    meta = dict(bundle.meta)
    meta.update(source_file=network.name, source_format=bundle.source_format, source_sha256=bundle.sha256)
    has_generator = bundle.G is not None or bundle.G_ema is not None
    if has_generator and not no_fingerprint:
        meta["fingerprint"] = render_fingerprint(bundle.generator)
    save_network(out, G=bundle.G, D=bundle.D, G_ema=bundle.G_ema, **meta)
    console = Console()
    kept = ", ".join(key for key in ("G", "D", "G_ema") if getattr(bundle, key) is not None)
    console.print(f"wrote {out} ({kept}) from {bundle.source_format} file {network.name}")
    if "fingerprint" in meta:
        console.print(
            f"render fingerprint (seeds {meta['fingerprint']['seeds']}): {meta['fingerprint']['sha256']}"
        )
