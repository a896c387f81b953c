"""``sg2eval info NET``: what a network file holds (config, resolution, parameter counts, origin, hash).

With ``--verify`` the generator re-renders a recorded fingerprint and the command fails when the images
differ. The fingerprint is the file's own (stored by ``sg2eval convert``) or, for the networks shipped with
sg2eval, the one the assets manifest records beside the file's SHA-256 (``sg2eval/builtin/assets/
MANIFEST.json``, :func:`recorded_fingerprint`). A file with neither can only be hashed: the command says so
and fails. See docs/official_networks.md.
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
        stored, where = recorded_fingerprint(bundle.meta, str(summary["sha256"]))
        if stored is None:
            raise Sg2evalError(
                f"{network} (sha256 {str(summary['sha256'])[:12]}) has no render fingerprint, in the file or "
                "the built-in assets manifest, so its rendering cannot be verified; create one with "
                "'sg2eval convert'"
            )
        check = check_fingerprint(bundle.generator, stored)
        summary["verify"] = {**dataclasses.asdict(check), "fingerprint_from": where}
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    if check is not None and not check.ok:
        raise Sg2evalError(
            f"{network}: rendered images differ from the stored fingerprint (max statistic difference "
            f"{check.max_stat_diff:.3g} > {check.tolerance}); the file is damaged or was converted wrongly"
        )


def recorded_fingerprint(meta: dict[str, Any], sha256: str) -> tuple[dict[str, Any] | None, str]:
    """The render fingerprint to check a network against and where it was recorded: the file's own
    (``"file"``), else the built-in assets manifest's entry with the same SHA-256 (``"builtin manifest"``);
    ``(None, "")`` when neither has one."""
    if meta.get("fingerprint") is not None:
        return dict(meta["fingerprint"]), "file"
    from sg2eval.builtin.paths import manifest

    for entry in manifest().values():
        fingerprint = entry.get("fingerprint")
        if entry.get("sha256") == sha256 and isinstance(fingerprint, dict):
            return dict(fingerprint), "builtin manifest"
    return None, ""


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
            f"{result['max_stat_diff']:.3g}; fingerprint from the {result['fingerprint_from']})"
        )
