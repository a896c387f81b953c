"""``sg2eval convert NET.pkl --out NET.sg2``: any network file sg2model reads -> our ``.sg2`` format.

The converted file keeps the source's provenance (format, SHA-256, TF build functions) and a render
fingerprint of the generator (fixed seeds, constant noise) so that a later load can be checked with
``sg2eval info NET.sg2 --verify``. See docs/official_networks.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from sg2eval.network import convert_network


@click.command("convert")
@click.argument("network", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file (.sg2)."
)
@click.option("--no-fingerprint", is_flag=True, help="Skip rendering the verification images.")
def convert(network: Path, out: Path, no_fingerprint: bool) -> None:
    """Convert NETWORK (TF pickle, stylegan2-ada-pytorch pickle or .sg2) to our .sg2 format."""
    done = convert_network(network, out, fingerprint=not no_fingerprint)
    console = Console()
    console.print(f"wrote {done.out} ({', '.join(done.kept)}) from {done.source_format} file {network.name}")
    if done.fingerprint is not None:
        console.print(f"render fingerprint (seeds {done.fingerprint['seeds']}): {done.fingerprint['sha256']}")
