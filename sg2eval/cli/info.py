"""``sg2eval info NET``: what a network file holds (config, resolution, parameter counts, origin, hash).

With ``--verify`` the generator re-renders the fingerprint stored by ``sg2eval convert`` and the command
fails when the images differ. See docs/official_networks.md.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sg2eval.errors import Sg2evalError
from sg2eval.network import describe_file
from sg2model.io import load_network
from sg2model.io.tf_convert import check_fingerprint


@click.command("info")
@click.argument("network", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="Re-render the stored fingerprint and compare.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(network: Path, verify: bool, as_json: bool) -> None:
    """Show what NETWORK holds: config, resolution, parameter counts, TF or PyTorch origin, SHA-256."""
    bundle = load_network(network)
    summary = describe_file(network, bundle)
    check = None
    if verify:
        stored = bundle.meta.get("fingerprint")
        if stored is None:
            raise Sg2evalError(f"{network} has no render fingerprint; create one with 'sg2eval convert'")
        check = check_fingerprint(bundle.generator, stored)
        summary["verify"] = dataclasses.asdict(check)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    if check is not None and not check.ok:
        raise Sg2evalError(
            f"{network}: rendered images differ from the stored fingerprint (max statistic difference "
            f"{check.max_stat_diff:.3g} > {check.tolerance}); the file is damaged or was converted wrongly"
        )


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]{summary['file']}[/bold]  sha256 {summary['sha256']}")
    console.print(f"format {summary['format']}, origin {summary['origin']}")
    if summary["source_sha256"]:
        console.print(f"converted from a file with sha256 {summary['source_sha256']}")
    if summary["tf_architectures"]:
        console.print(
            "TF architectures: " + ", ".join(f"{k}={v}" for k, v in summary["tf_architectures"].items())
        )
    table = Table()
    for column in ("network", "class", "preset", "resolution", "parameters", "buffers"):
        table.add_column(column)
    for row in summary["networks"]:
        table.add_row(
            *(
                f"{row[c]:,}" if isinstance(row[c], int) and c != "resolution" else str(row[c])
                for c in ("network", "class", "preset", "resolution", "parameters", "buffers")
            )
        )
    console.print(table)
    for row in summary["networks"]:
        console.print(f"{row['network']} config: {json.dumps(row['config'])}")
    if "verify" in summary:
        result = summary["verify"]
        colour = "green" if result["status"] in ("exact", "close") else "red"
        console.print(
            f"verify: [{colour}]{result['status']}[/{colour}] (max statistic difference "
            f"{result['max_stat_diff']:.3g})"
        )
