"""``sg2eval report table1|table2|table3|table4|fig10``: a StyleGAN2 table or figure beside the published
values, from a manifest of network files and datasets (see docs/reports.md)."""

from __future__ import annotations

from typing import Any

import click

from sg2reports.tables import TABLES


def _patterns(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("report")
@click.argument("table", type=click.Choice(list(TABLES)))
@click.option("--manifest", required=True, metavar="TOML", help="Rows: network file and dataset per row.")
@click.option("--seeds", type=int, default=10, show_default=True, help="Runs per metric (the paper: 10).")
@click.option(
    "--rows",
    "rows",
    multiple=True,
    metavar="LABELS",
    help="Only these rows: labels like A/ffhq or patterns like '*/lsun-car' (comma-separated or repeated).",
)
@click.option("--out", default=None, metavar="DIR", help="Output folder [./report-<table>].")
@click.option("--store", default=None, metavar="DIR", help="Cell store for resuming [<out>/cells].")
@click.option(
    "--paper-values",
    default=None,
    metavar="DIR",
    help="Folder of the published CSVs [$SG2EVAL_PAPER_VALUES, else the copy shipped with sg2reports].",
)
@click.option("--networks-dir", default=None, metavar="DIR", help="Where the network files are [manifest's].")
@click.option("--datasets-dir", default=None, metavar="DIR", help="Where the datasets are [manifest's].")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1 ... for every metric.")
@click.option("--batch-size", type=int, default=None, help="Batch size for every metric.")
@click.option("--confidence", type=float, default=0.95, show_default=True, help="Level of the t-interval.")
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Progress per cell and inside it: bars on a terminal, else plain lines on stderr.",
)
def report_command(
    table: str,
    manifest: str,
    seeds: int,
    rows: tuple[str, ...],
    out: str | None,
    store: str | None,
    paper_values: str | None,
    networks_dir: str | None,
    datasets_dir: str | None,
    device: str | None,
    batch_size: int | None,
    confidence: float,
    progress: bool,
) -> None:
    """Compute TABLE's metrics for the manifest's rows over --seeds runs each and write CSV, Markdown, HTML,
    JSON (and Figure 10's PNGs). Finished cells are stored and never computed twice."""
    from pathlib import Path

    from sg2reports.cells import CellStore
    from sg2reports.manifest import load_manifest
    from sg2reports.outputs import display_frame, to_markdown, write_report
    from sg2reports.runner import run_report

    parsed = load_manifest(manifest, table, networks_dir, datasets_dir)
    folder = Path(out) if out else Path(f"report-{table}")
    overrides: dict[str, Any] = {
        k: v for k, v in (("device", device), ("batch_size", batch_size)) if v is not None
    }
    result = run_report(
        parsed,
        seeds=seeds,
        rows=_patterns(rows) or None,
        store=CellStore(Path(store) if store else folder / "cells"),
        overrides=overrides,
        paper_values=paper_values,
        confidence=confidence,
        progress=progress,
    )
    click.echo(to_markdown(display_frame(result)))
    for problem in result.problems:
        click.echo(
            f"{problem.row}: {problem.problem} ({', '.join(problem.metrics)}): {problem.detail}", err=True
        )
    click.echo(f"cells computed: {result.computed}, reused from the store: {result.reused}", err=True)
    for path in write_report(result, folder):
        click.echo(f"wrote {path}", err=True)
