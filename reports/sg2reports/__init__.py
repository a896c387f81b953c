"""sg2reports: StyleGAN2 Tables 1-4 and Figure 10 as pandas reports beside the published values.

``sg2eval report table1 --manifest M`` runs :func:`run_report` on a manifest (:mod:`sg2reports.manifest`):
every metric of every row over several seeds (:mod:`sg2reports.metrics`, a registry), each (row, metric,
seed) cell stored on disk and reused (:mod:`sg2reports.cells`), summarized with mean, standard deviation and
a t-interval (:mod:`sg2reports.stats`) beside the paper's values (:mod:`sg2reports.paper_values`), and
written as CSV, Markdown, HTML, JSON and PNG (:mod:`sg2reports.outputs`). See docs/reports.md.
"""

from __future__ import annotations

from sg2reports.cells import CellKey, CellRecord, CellStore
from sg2reports.manifest import Manifest, load_manifest
from sg2reports.metrics import MetricEntry, Registry, default_registry
from sg2reports.outputs import write_report
from sg2reports.runner import Report, RowProblem, run_report
from sg2reports.tables import TABLES, get_table

__all__ = [
    "TABLES",
    "CellKey",
    "CellRecord",
    "CellStore",
    "Manifest",
    "MetricEntry",
    "Registry",
    "Report",
    "RowProblem",
    "default_registry",
    "get_table",
    "load_manifest",
    "run_report",
    "write_report",
]
