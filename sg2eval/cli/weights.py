"""``sg2eval weights list``: each known weight file, where it was found, its hash, whether it is verified."""

from __future__ import annotations

import warnings

import click
from rich.console import Console
from rich.table import Table

from sg2eval.weights import KNOWN, UnverifiedWeightsWarning, locate, our_cache_dir


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
