"""Run a report: every (row, metric, seed) cell of a manifest, reusing stored cells, then the summary.

Rows whose network file is missing (or whose hash differs from the manifest's) are reported with how to get
the file and skipped; a missing dataset skips only the metrics that read it (PPL still runs). Any other
one-line error of a cell (:class:`~sg2eval.errors.Sg2evalError`, e.g. a detector weight file that is not
there) is reported for that row and metric, and the rest of the report goes on. Progress is shown per cell,
and each cell's own jobs (features, PPL pairs, projection steps) inside it (sg2eval/progress.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sg2eval.errors import Sg2evalError
from sg2eval.naming import Naming, naming
from sg2eval.progress import progress_bar
from sg2reports.cells import CellKey, CellRecord, CellStore, ContentHashes
from sg2reports.manifest import Manifest, RowEntry
from sg2reports.metrics import RUN_ONLY_OPTIONS, Registry, default_registry, split_output
from sg2reports.paper_values import find_paper_values, load_paper_table, published_values
from sg2reports.stats import SeedSummary, difference_in_std, summarize


@dataclass(frozen=True)
class RowProblem:
    """Why (part of) a row was not computed, and what to do about it."""

    row: str
    problem: str
    detail: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class RowResult:
    """One row: its manifest entry, hashes, stored cells per metric and the summaries per column."""

    entry: RowEntry
    network_sha256: str | None
    dataset_sha256: str | None
    cells: dict[str, list[CellRecord]]
    summaries: dict[str, SeedSummary]
    published: dict[str, float]


@dataclass(frozen=True)
class Report:
    """A finished report: the rows, problems and how many cells were computed or taken from the store."""

    manifest: Manifest
    seeds: int
    rows: tuple[RowResult, ...]
    problems: tuple[RowProblem, ...]
    computed: int
    reused: int
    paper_values: Path
    confidence: float = 0.95

    def table(self) -> pd.DataFrame:
        """One line per row: identity columns, then per column mean, std, CI, published value, difference."""
        spec = self.manifest.table
        lines = []
        for row in self.rows:
            line: dict[str, Any] = dict(row.entry.keys)
            for column in spec.columns:
                s = row.summaries[column.name]
                line.update(
                    {
                        column.name: s.mean,
                        f"{column.name}_std": s.std,
                        f"{column.name}_ci_low": s.ci_low,
                        f"{column.name}_ci_high": s.ci_high,
                        f"{column.name}_paper": row.published[column.name],
                        f"{column.name}_diff_std": difference_in_std(s, row.published[column.name]),
                    }
                )
            line["seeds"] = min((s.n for s in row.summaries.values()), default=0)
            line["status"] = "; ".join(p.problem for p in self.problems if p.row == row.entry.label) or "ok"
            lines.append(line)
        return pd.DataFrame(lines)

    def cells_frame(self) -> pd.DataFrame:
        """Long form: one line per row, metric value and seed."""
        lines = []
        for row in self.rows:
            for metric, records in row.cells.items():
                for seed, record in enumerate(records):
                    for name, value in record.values.items():
                        lines.append(
                            {
                                **row.entry.keys,
                                "metric": metric,
                                "value_name": name,
                                "seed": seed,
                                "value": value,
                                "cell": record.key.digest,
                            }
                        )
        return pd.DataFrame(lines)


def _key_options(options: Mapping[str, Any], memo: ContentHashes) -> dict[str, Any]:
    """The options that decide values; weight files replaced by their SHA-256 (changed file, new key)."""
    keyed: dict[str, Any] = {}
    for name, value in sorted(options.items()):
        if name in RUN_ONLY_OPTIONS:
            continue
        file = _weights_file(name, value)
        keyed[name] = {"file": file.name, "sha256": memo.file(file)} if file is not None else value
    return keyed


def _weights_file(name: str, value: Any) -> Path | None:
    """The file behind a ``*weights`` option or a ``torchscript:PATH`` detector, when it exists."""
    if not isinstance(value, str):
        return None
    if name.endswith("weights"):
        path = Path(value)
    elif name == "detector" and value.startswith("torchscript:"):
        path = Path(value.removeprefix("torchscript:"))
    else:
        return None
    return path if path.is_file() else None


def _check_hash(kind: str, path: Path, expected: str, found: str) -> None:
    if expected and expected.lower() != found:
        raise Sg2evalError(
            f"{kind} {path} has SHA-256 {found[:16]}... but the manifest expects "
            f"{expected[:16]}...; get the right file or fix the manifest"
        )


def _manifest_naming(manifest: Manifest, metric: str) -> Naming:
    """Errors inside a cell name the manifest's option (``weights = 'FILE' in [metrics.fid] of t.toml``)."""

    def name(parameter: str, value: object) -> str:
        return f"{parameter} = {value!r} in [metrics.{metric}] of {manifest.path.name}"

    return name


class _Run:
    """State of one report run (store, hashes, counters, problems, progress)."""

    def __init__(
        self,
        manifest: Manifest,
        seeds: int,
        store: CellStore,
        registry: Registry,
        overrides: Mapping[str, Any],
    ) -> None:
        self.manifest, self.seeds, self.store, self.registry = manifest, seeds, store, registry
        self.overrides = dict(overrides)
        self.memo = ContentHashes()
        self.problems: list[RowProblem] = []
        self.computed = self.reused = 0
        missing = [m for m in manifest.table.metrics if m not in registry]
        if missing:
            raise Sg2evalError(f"no metric function registered for {', '.join(missing)}")

    def problem(self, row: RowEntry, problem: str, detail: str, metrics: Sequence[str]) -> None:
        self.problems.append(RowProblem(row.label, problem, detail, tuple(metrics)))

    def hashes(self, row: RowEntry) -> tuple[str | None, str | None, list[str]]:
        """Network and dataset hashes, and the metrics that can run; problems recorded."""
        metrics = list(self.manifest.table.metrics)
        if not row.network.is_file():
            self.problem(row, "network missing", f"{row.network} not found; {row.network_help()}", metrics)
            return None, None, []
        try:
            network_sha = self.memo.file(row.network)
            _check_hash("network", row.network, row.sha256, network_sha)
        except Sg2evalError as error:
            self.problem(row, "network unusable", str(error), metrics)
            return None, None, []
        dataset = row.dataset
        needing = [m for m in metrics if self.registry[m].needs_dataset]
        if not needing:
            return network_sha, None, metrics
        if not dataset.path.exists():
            how = dataset.how_to_get or f"prepare the {dataset.name} images there (docs/reports.md)"
            self.problem(row, "dataset missing", f"{dataset.path} not found; {how}", needing)
            return network_sha, None, [m for m in metrics if m not in needing]
        try:
            dataset_sha = self.memo.dataset(dataset.path)
            _check_hash("dataset", dataset.path, dataset.sha256, dataset_sha)
        except Sg2evalError as error:
            self.problem(row, "dataset unusable", str(error), needing)
            return network_sha, None, [m for m in metrics if m not in needing]
        return network_sha, dataset_sha, metrics

    def cell(
        self, row: RowEntry, metric: str, seed: int, key: CellKey, options: dict[str, Any]
    ) -> CellRecord:
        stored = self.store.load(key)
        if stored is not None:
            self.reused += 1
            return stored
        entry = self.registry[metric]
        dataset = row.dataset.path if entry.needs_dataset else None
        start = time.perf_counter()
        with naming(_manifest_naming(self.manifest, metric)):
            output = split_output(entry.fn(row.network, dataset, seed, options))
        keep = set(self.manifest.table.histograms)
        record = CellRecord(
            key,
            output.values,
            {name: [float(v) for v in values] for name, values in output.per_item.items() if name in keep},
            {
                **output.provenance,
                "row": row.label,
                "network": str(row.network),
                "dataset": str(dataset) if dataset is not None else None,
                "cell_elapsed_s": time.perf_counter() - start,
            },
        )
        self.store.save(record)
        self.computed += 1
        return record

    def row(
        self, row: RowEntry, advance: Callable[[float, str], None]
    ) -> tuple[str | None, str | None, dict[str, list[CellRecord]]]:
        """Hashes of the row's files and its cells per metric (complete seeds only up to a failure)."""
        network_sha, dataset_sha, metrics = self.hashes(row)
        cells: dict[str, list[CellRecord]] = {}
        for metric in self.manifest.table.metrics:
            if metric not in metrics:
                advance(self.seeds, f"{row.label} {metric}: skipped")
                continue
            assert network_sha is not None
            options = {**self.manifest.options_for(metric), **self.overrides}
            needs = self.registry[metric].needs_dataset
            records: list[CellRecord] = []
            for seed in range(self.seeds):
                advance(0, f"{row.label} {metric} seed {seed}")
                key = CellKey(
                    network_sha,
                    dataset_sha if needs else None,
                    metric,
                    _key_options(options, self.memo),
                    seed,
                )
                try:
                    records.append(self.cell(row, metric, seed, key, options))
                except Sg2evalError as error:
                    self.problem(row, f"{metric} failed", str(error), [metric])
                    advance(self.seeds - seed, f"{row.label} {metric}: failed")
                    break
                advance(1, f"{row.label} {metric} seed {seed}")
            cells[metric] = records
        return network_sha, dataset_sha, cells


def _summaries(
    manifest: Manifest, cells: dict[str, list[CellRecord]], confidence: float
) -> dict[str, SeedSummary]:
    found = {}
    for column in manifest.table.columns:
        values = [r.values[column.value] for r in cells.get(column.metric, []) if column.value in r.values]
        found[column.name] = summarize([v for v in values if not math.isnan(v)], confidence)
    return found


def run_report(
    manifest: Manifest,
    *,
    seeds: int = 10,
    rows: Sequence[str] | None = None,
    store: CellStore,
    registry: Registry | None = None,
    overrides: Mapping[str, Any] | None = None,
    paper_values: str | Path | None = None,
    confidence: float = 0.95,
    progress: bool = False,
) -> Report:
    """Compute (or reuse) every cell of the selected rows and summarize them beside the published values.

    ``overrides`` (e.g. ``device``, ``batch_size``) apply to every metric; ``registry`` defaults to
    :func:`~sg2reports.metrics.default_registry`.
    """
    if seeds < 1:
        raise Sg2evalError(f"--seeds must be at least 1, got {seeds}; the paper uses 10")
    if not 0 < confidence < 1:
        raise Sg2evalError(f"confidence must be between 0 and 1, got {confidence}; use 0.95")
    run = _Run(manifest, seeds, store, registry or default_registry(), overrides or {})
    spec = manifest.table
    paper_dir = find_paper_values(paper_values)
    paper = load_paper_table(spec, paper_dir)
    selected = manifest.select(rows)
    results = []
    # Each cell's own jobs (features, PPL pairs, projection steps) show inside this display with their own
    # estimate: the estimate over cells cannot know that one PPL cell takes minutes and a FID cell seconds.
    with progress_bar(len(selected) * len(spec.metrics) * seeds, spec.name, progress, "cells") as bar:
        for row in selected:
            network_sha, dataset_sha, cells = run.row(row, bar.advance)
            results.append(
                RowResult(
                    row,
                    network_sha,
                    dataset_sha,
                    cells,
                    _summaries(manifest, cells, confidence),
                    published_values(spec, paper, row.keys),
                )
            )
    return Report(
        manifest, seeds, tuple(results), tuple(run.problems), run.computed, run.reused, paper_dir, confidence
    )
