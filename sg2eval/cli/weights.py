"""``sg2eval weights list``: each known weight file, where it was found, its hash, whether it is verified;
``sg2eval weights fetch [NAME|all]``: download the missing ones into the cache, verified."""

from __future__ import annotations

import warnings

import click
from rich.console import Console
from rich.table import Table

from sg2eval.errors import Sg2evalError
from sg2eval.weights import KNOWN, UnverifiedWeightsWarning, fetch, locate, our_cache_dir, source_url


@click.group("weights")
def weights() -> None:
    """Inspect the detector weight files (search order and verification: docs/weights.md)."""


@weights.command("list")
def list_weights() -> None:
    """Show each known file: where it was found (nothing is downloaded), SHA-256, verified or not."""
    table = Table(title=f"sg2eval weight files (downloads go to {our_cache_dir()})")
    for column in ("kind", "file", "found at", "sha256", "verified"):
        table.add_column(column, overflow="fold")
    skipped: list[str] = []
    missing: list[str] = []
    for kind, entry in KNOWN.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnverifiedWeightsWarning)
            found = locate(kind)
        skipped += [str(w.message) for w in caught]
        if found is None:
            table.add_row(kind, entry.filename, "[red]missing[/red]", "-", "-")
            missing.append(f"{entry.filename}: {entry.url}")
            continue
        status = "[green]yes[/green]" if found.verified else "[yellow]no[/yellow]"
        table.add_row(
            kind,
            entry.filename,
            f"{found.origin}: {found.path}",
            found.sha256[:16] + "...",
            f"{status} ({found.check})",
        )
    console = Console()
    console.print(table)
    for line in missing:
        console.print(f"[red]missing[/red] {line}")
    for message in skipped:
        console.print(f"[yellow]skipped:[/yellow] {message}")


@weights.command("fetch")
@click.argument("name", default="all", type=click.Choice(["all", *KNOWN]))
def fetch_weights(name: str) -> None:
    """Download NAME (a kind from 'sg2eval weights list', default all) from its official URL (or
    $SG2EVAL_WEIGHTS_MIRROR/<file>) into the cache, keeping it only if its SHA-256 matches the published one.
    Files already found anywhere are left as they are. Exit status 2 when a file could not be fetched."""
    failed = 0
    for kind in KNOWN if name == "all" else [name]:
        found = locate(kind)
        if found is None:
            click.echo(f"fetching {KNOWN[kind].filename} from {source_url(kind)} ...", err=True)
            try:
                found = fetch(kind)
            except Sg2evalError as error:
                if name != "all":
                    raise
                click.echo(f"Error: {error}", err=True)
                failed += 1
                continue
        status = "verified" if found.verified else "NOT verified"
        click.echo(
            f"{kind}: {found.path} ({found.origin}; sha256 {found.sha256[:16]}..., {status}: {found.check})"
        )
    if failed:
        raise click.exceptions.Exit(2)
