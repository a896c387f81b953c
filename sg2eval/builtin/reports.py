"""The small built-in reports: Tables 1-4 and Figure 10 on the networks shipped in ``sg2eval/builtin/assets``.

The manifests (``manifests/<table>.toml`` beside this module, package data) name the shipped final and early
snapshots and the built-in shapes data (``shapes32.zip``), and measure with the in-domain detectors
(``shapes-features`` for FD and P&R, ``shapes-lpips`` for PPL and the projector): their numbers are in-domain
distances, and their rows have no published values. ``sg2eval report <table> --manifest`` runs them at their
own sizes; the demo (:mod:`sg2eval.builtin.demo`) runs all five at its own, smaller sizes
(:class:`BuiltinSizes`) through :func:`run_builtin_reports`, with one cell store, so Tables 2-4 reuse Table
1's cells wherever a row, metric, option set and seed coincide.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sg2reports.cells import CellStore
from sg2reports.manifest import Manifest, load_manifest
from sg2reports.outputs import write_report
from sg2reports.runner import Report, run_report

MANIFESTS = Path(__file__).resolve().with_name("manifests")
BUILTIN_TABLES = ("table1", "table2", "table3", "table4", "fig10")
DATASET_FILE = "shapes32.zip"  # the manifests' [datasets.shapes32] path


@dataclass(frozen=True)
class BuiltinSizes:
    """Sample sizes that replace the manifests' own (the paper's protocol at a demo's scale)."""

    seeds: int  # runs per metric of Tables 1-4 (the paper: 10)
    num: int  # generated images per FD and P&R cell, and as many reals
    ppl_samples: int  # PPL pairs per cell
    project: int  # Figure 10: generated and real images projected per row (one seed)
    project_steps: int

    def options(self, metric: str) -> dict[str, Any]:
        """The size options of ``metric`` (merged over the manifest's ``[metrics.<metric>]``)."""
        return {
            "fid": {"num": self.num},
            "pr": {"num": self.num},
            "ppl": {"num": self.ppl_samples},
            "projection": {"num": self.project, "num_steps": self.project_steps},
        }.get(metric, {})

    def seeds_for(self, table: str) -> int:
        """Figure 10's result is its histograms: one seed; the tables average ``seeds`` runs."""
        return 1 if table == "fig10" else self.seeds


def builtin_manifest(table: str, datasets_dir: str | os.PathLike[str], sizes: BuiltinSizes) -> Manifest:
    """The shipped manifest of ``table``: networks from the assets folder (``$SG2EVAL_BUILTIN_ASSETS``
    honoured), ``shapes32.zip`` from ``datasets_dir``, the metric sizes replaced by ``sizes``."""
    from sg2eval.builtin.paths import assets_folder

    manifest = load_manifest(MANIFESTS / f"{table}.toml", table, assets_folder(), datasets_dir)
    options = {metric: {**manifest.metric_options.get(metric, {}), **sizes.options(metric)}
               for metric in manifest.table.metrics}
    return replace(manifest, metric_options=options)


def run_builtin_reports(
    real: np.ndarray,
    attributes: np.ndarray,
    out: str | os.PathLike[str],
    sizes: BuiltinSizes,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Report]:
    """Run every built-in report on the real images ``real`` (uint8 [N, 3, 32, 32], the built-in data with
    its ``attributes``) and write each into ``out`` (``<table>.csv/.md/.html/.json``, ``fig10.png``, the
    cell store in ``out/cells``). The reals go to a temporary ``shapes32.zip`` deleted afterwards."""
    from sg2datasets.labelled import write_labelled_zip
    from sg2datasets.shapes import ATTRIBUTES

    folder = Path(out)
    store = CellStore(folder / "cells")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="sg2eval-builtin-data-") as data_dir:
        write_labelled_zip(Path(data_dir) / DATASET_FILE, real, attributes, ATTRIBUTES)
        for table in BUILTIN_TABLES:
            report = run_report(builtin_manifest(table, data_dir, sizes), seeds=sizes.seeds_for(table),
                                store=store, overrides={"device": device}, progress=progress)
            write_report(report, folder)
            reports[table] = report
    return reports
