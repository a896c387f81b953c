"""``sg2eval demo``: evaluate the shipped networks with every metric, offline (docs/demo.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.command("demo")
@click.option("--quick", is_flag=True, help="Small samples, no built-in reports: minutes on two CPU cores.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sg2eval-demo"),
    show_default=True,
    help="Report folder (written under a temporary name, then renamed; an earlier demo report is replaced).",
)
@click.option(
    "--official",
    is_flag=True,
    help="Use Inception-v3 / VGG16 / LPIPS weights already present instead of the in-domain detectors.",
)
@click.option(
    "--reports/--no-reports",
    default=None,
    help="Also make the built-in Tables 1-4 and Figure 10 [on in the full demo, off with --quick].",
)
@click.option("--device", default="cpu", show_default=True, help="Torch device.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress: bars on a terminal, else plain lines on stderr.")
def demo_command(
    quick: bool, out: Path, official: bool, reports: bool | None, device: str, progress: bool
) -> None:
    """Evaluate the built-in StyleGAN2 network (and its early snapshot) with FD, KID, precision/recall, PPL
    and separability, project and attribute a few images, and write a report folder."""
    from rich.console import Console

    from sg2eval.builtin.demo import REPORTS_DIR, run_demo

    report = run_demo(out, quick=quick, official=official, progress=progress, device=device, reports=reports)
    detectors = "official" if official else "in-domain"
    title = f"sg2eval demo ({'quick' if quick else 'full'}, {detectors} detectors)"
    console = Console(width=200)
    by_measure = report.table.set_index("network").T  # a row per measure: its long label reads in one line
    by_measure.insert(0, "measure", by_measure.index)
    console.print(_rich_table(by_measure, title))
    if report.reports:
        console.print(_table1(report.reports["table1"]))
        where = f"Tables 1-4 and Figure 10 in {report.folder / REPORTS_DIR}"
    else:
        where = "built-in Tables 1-4 not made (add --reports)"
    console.print(f"report: {report.folder}  ({report.elapsed_s:.0f} s); {where}")


def _rich_table(frame: Any, title: str) -> Any:
    """A pandas frame as a rich table, floats with 4 significant digits."""
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    return table


def _table1(report: Any) -> Any:
    """The built-in Table 1 (mean ± CI half-width over its seeds) as a rich table, its columns named for what
    was measured (:func:`sg2reports.outputs.column_labels`: in-domain FD etc.)."""
    from sg2reports.outputs import display_frame

    frame = display_frame(report)
    frame = frame.loc[:, (frame != "—").any()]  # the paper has no values for the built-in rows
    title = f"built-in Table 1 ({report.seeds} seeds, in-domain detectors; no published values)"
    return _rich_table(frame, title)
