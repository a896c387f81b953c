"""Report files: the table as CSV, Markdown and HTML, JSON with the provenance of every cell, and for
Figure 10 the PNG of the histograms, a panel per row (generated in blue, real in orange, as in the paper).

``<table>.csv`` holds every number (mean, standard deviation, confidence interval, published value,
difference in units of our standard deviation); the Markdown and HTML versions show
``mean ± half-width`` beside the published value and that difference.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sg2eval.result import Result, runtime_versions
from sg2model.core.files import atomic_open, atomic_path, write_json
from sg2reports.runner import Report, RowResult
from sg2reports.stats import difference_in_std

#: The paper's marks: lower is better, higher is better.
ARROWS = {"lower": "↓", "higher": "↑"}


def _number(value: float, digits: int = 4) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def column_labels(report: Report) -> dict[str, str]:
    """Per column, what its numbers are (:func:`sg2eval.labels.value_label` of its cells: ``in-domain FD
    (shapes-features, 2000 real vs 2000 generated)``, ``FID (Inception-v3, ...)``); the column's name where
    its cells name no detector or distance, or the rows were measured differently."""
    from sg2eval.labels import value_label

    labels = {}
    for column in report.manifest.table.columns:
        found = {
            value_label(Result(column.metric, r.values, r.key.options, r.provenance), column.value)
            for row in report.rows
            for r in row.cells.get(column.metric, [])
            if r.provenance.get("detector") or r.provenance.get("lpips")
        }
        labels[column.name] = found.pop() if len(found) == 1 else column.name
    return labels


def display_frame(report: Report) -> pd.DataFrame:
    """The table for reading: ours as ``mean ± CI half-width``, the paper's value, ``(ours-paper)/std``;
    the columns named by :func:`column_labels`."""
    spec = report.manifest.table
    labels = column_labels(report)
    lines = []
    for row in report.rows:
        line: dict[str, str] = dict(row.entry.keys)
        for column in spec.columns:
            s = row.summaries[column.name]
            ours = (
                _number(s.mean)
                if math.isnan(s.half_width)
                else f"{_number(s.mean)} ± {_number(s.half_width, 2)}"
            )
            header = f"{labels[column.name]} {ARROWS[column.better]}"
            line[header] = ours
            if spec.paper_file is not None:
                diff = difference_in_std(s, row.published[column.name])
                line[f"{column.name} {ARROWS[column.better]} (paper)"] = _number(row.published[column.name])
                line[f"{column.name} Δ/std"] = _number(diff, 2) if math.isnan(diff) else f"{diff:+.2f}"
        line["seeds"] = str(min((s.n for s in row.summaries.values()), default=0))
        lines.append(line)
    return pd.DataFrame(lines)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-style Markdown table of a frame of strings."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in values) + " |" for values in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def _markdown_document(report: Report) -> str:
    spec = report.manifest.table
    level = int(report.confidence * 100)
    parts = [
        f"# {spec.title}\n",
        f"Manifest `{report.manifest.path}`; {report.seeds} seed(s) per cell; ± is the {level}% "
        f"t-interval of the mean; Δ/std is (ours − paper) / our standard deviation over seeds.\n",
        *([f"{report.manifest.notes}\n"] if report.manifest.notes else []),
        to_markdown(display_frame(report)),
    ]
    if report.problems:
        parts.append("\n## Not computed\n")
        parts += [
            f"- **{p.row}** ({p.problem}; {', '.join(p.metrics)}): {p.detail}\n" for p in report.problems
        ]
    return "\n".join(parts)


def html_document(report: Report) -> str:
    """The report as a complete HTML5 document (doctype, ``lang``, UTF-8 charset, title): the title, the
    same caption as the Markdown, the manifest's notes, the table and the rows not computed."""
    spec = report.manifest.table
    level = int(report.confidence * 100)
    title = html.escape(spec.title)
    caption = (
        f"Manifest <code>{html.escape(str(report.manifest.path))}</code>; {report.seeds} seed(s) per cell; "
        f"± is the {level}% t-interval of the mean; Δ/std is (ours − paper) / our standard deviation over "
        "seeds."
    )
    notes = f"<p>{html.escape(report.manifest.notes)}</p>\n" if report.manifest.notes else ""
    problems = "".join(
        f"<li><b>{html.escape(p.row)}</b> ({html.escape(p.problem)}; {html.escape(', '.join(p.metrics))}): "
        f"{html.escape(p.detail)}</li>\n"
        for p in report.problems
    )
    missing = f"<h2>Not computed</h2>\n<ul>\n{problems}</ul>\n" if problems else ""
    table = display_frame(report).to_html(index=False, border=0)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{caption}</p>\n{notes}"
        f"{table}\n{missing}</body>\n</html>\n"
    )


def _clean(obj: Any) -> Any:
    """JSON-ready: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _row_json(report: Report, row: RowResult) -> dict[str, Any]:
    entry = row.entry
    return {
        "label": entry.label,
        "keys": entry.keys,
        "extra": entry.extra,
        "network": {
            "path": str(entry.network),
            "sha256": row.network_sha256,
            "url": entry.url,
            "expected_sha256": entry.sha256 or None,
        },
        "dataset": {
            "name": entry.dataset.name,
            "path": str(entry.dataset.path),
            "sha256": row.dataset_sha256,
        },
        "columns": {
            name: {
                "mean": s.mean,
                "std": s.std,
                "n": s.n,
                "ci_low": s.ci_low,
                "ci_high": s.ci_high,
                "paper": row.published[name],
            }
            for name, s in row.summaries.items()
        },
        "cells": {
            metric: [
                {
                    "seed": seed,
                    "key": r.key.digest,
                    "options": r.key.options,
                    "values": r.values,
                    "provenance": r.provenance,
                }
                for seed, r in enumerate(records)
            ]
            for metric, records in row.cells.items()
        },
        "problems": [p.__dict__ for p in report.problems if p.row == entry.label],
    }


def report_json(report: Report) -> dict[str, Any]:
    """Everything the report knows, with per-cell inputs, values and provenance."""
    spec = report.manifest.table
    return _clean(
        {
            "table": spec.name,
            "title": spec.title,
            "manifest": str(report.manifest.path),
            "seeds": report.seeds,
            "confidence": report.confidence,
            "paper_values": str(report.paper_values),
            "cells_computed": report.computed,
            "cells_reused": report.reused,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": runtime_versions(),
            "rows": [_row_json(report, row) for row in report.rows],
            "problems": [p.__dict__ for p in report.problems],
        }
    )


def figure10_calibrations(report: Report) -> dict[str, Any]:
    """Per row with distances: an attribution :class:`~sg2eval.attribution.Calibration` of its distances
    pooled over seeds (what :func:`sg2eval.figure10.figure10_frame` draws, threshold included)."""
    from sg2eval.attribution import Calibration

    found = {}
    for row in report.rows:
        records = [r for records in row.cells.values() for r in records]
        pooled = {n: [v for r in records for v in r.per_item.get(n, [])] for n in ("generated", "real")}
        if not (pooled["generated"] and pooled["real"]):
            continue
        first = records[0].provenance
        found[row.entry.label] = Calibration.from_distances(
            pooled["generated"],
            pooled["real"],
            network_sha256=row.network_sha256 or "",
            network_path=str(row.entry.network),
            lpips=dict(first.get("lpips") or {}),
            projector=dict(first.get("projector") or {}),
            real_source={"path": str(row.entry.dataset.path), "sha256": row.dataset_sha256},
            generation={"seeds": [r.provenance.get("generated_seeds") for r in records]},
        )
    return found


def write_figure(report: Report, out: Path) -> list[Path]:
    """Figure 10 as one PNG, a panel per row (generated blue, real orange; :mod:`sg2eval.figure10`)."""
    from sg2eval.figure10 import figure10_frame, save_figure10
    from sg2eval.labels import distance_name

    calibrations = figure10_calibrations(report)
    if not calibrations:
        return []
    path = out / f"{report.manifest.table.name}.png"
    names = sorted({distance_name(c.lpips) for c in calibrations.values()})
    xlabel = f"{' / '.join(names)} between image and projection"
    save_figure10(figure10_frame(calibrations), path, xlabel=xlabel)
    return [path]


def write_report(report: Report, out: str | Path) -> list[Path]:
    """Write ``<table>.csv``, ``.md``, ``.html``, ``.json`` (and the PNGs of a figure) into ``out``."""
    folder = Path(out)
    name = report.manifest.table.name
    paths = [folder / f"{name}.{suffix}" for suffix in ("csv", "md", "html", "json")]
    with atomic_open(paths[0]) as handle:
        report.table().to_csv(handle, index=False)
    for path, text in ((paths[1], _markdown_document(report)), (paths[2], html_document(report))):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    write_json(paths[3], report_json(report))
    return paths + (write_figure(report, folder) if report.manifest.table.histograms else [])
