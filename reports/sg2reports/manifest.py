"""Report manifests: which network file and which dataset make each row of a table (TOML).

```toml
table = "table1"                       # table1 | table2 | table3 | table4 | fig10
[paths]                                # folders the relative file names below live in (relative to this file)
networks = "networks"                  # overridden by --networks-dir or $SG2EVAL_NETWORKS
datasets = "datasets"                  # overridden by --datasets-dir or $SG2EVAL_DATASETS
[datasets.ffhq]
path = "ffhq.zip"                      # image folder, zip or .npy/.npz (what sg2eval fid --real takes)
how_to_get = "python dataset_tool.py ..."
sha256 = ""                            # optional: the content hash sg2eval computes; checked when given
[metrics.fid]                          # options handed to the metric functions (defaults: the paper's)
num = 50000
weights = "inception-2015-12-05.pt"    # *weights and torchscript:PATH are relative to this file
[[rows]]
config = "A"                           # the table's identity columns (Table 1: config, dataset)
dataset = "ffhq"                       # a [datasets.*] entry
network = "stylegan2-ffhq-config-a.pkl"
url = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/stylegan2-ffhq-config-a.pkl"
sha256 = ""                            # NVIDIA publishes no hashes; checked when given
```

A row's label is its identity values joined by ``/`` (``A/ffhq``); ``--rows`` takes labels or shell-style
patterns (``'*/lsun-car'``).

A row whose identity values are one of the paper's rows (:mod:`sg2model.paper_rows`) carries that row
(``RowEntry.paper_row``), and what the registry says of it is not restated in the manifest: Table 4's
switches (``sn_g``, ``sn_d``, ``demod``, ``path_reg``) come from the registry into the row's extra fields,
and a manifest that states one differently is refused.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sg2eval.errors import Sg2evalError
from sg2model.paper_rows import PaperRow
from sg2reports.tables import TableSpec, get_table

_ROW_FIELDS = ("dataset", "network", "url", "sha256", "how_to_get")


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset named in the manifest: its path and how to obtain it."""

    name: str
    path: Path
    how_to_get: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class RowEntry:
    """One row of the table: identity values (``keys``), the network file and its dataset, and the paper's
    row it reproduces (None for other rows)."""

    keys: dict[str, str]
    network: Path
    dataset: DatasetEntry
    url: str = ""
    sha256: str = ""
    how_to_get: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    paper_row: PaperRow | None = None

    @property
    def label(self) -> str:
        return "/".join(self.keys.values())

    def network_help(self) -> str:
        """How to get the network file, for the missing-file message."""
        if self.how_to_get:
            return self.how_to_get
        if self.url:
            return f"download {self.url} to {self.network}"
        return f"train or convert the network and save it as {self.network}"


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: the table, its rows in file order, metric options and where it was read from."""

    path: Path
    table: TableSpec
    rows: tuple[RowEntry, ...]
    metric_options: dict[str, dict[str, Any]]
    notes: str = ""

    def options_for(self, metric: str) -> dict[str, Any]:
        """The table's defaults for ``metric`` overridden by the manifest's ``[metrics.<metric>]``."""
        return {**self.table.metric_options.get(metric, {}), **self.metric_options.get(metric, {})}

    def select(self, patterns: Sequence[str] | None) -> tuple[RowEntry, ...]:
        """Rows whose label matches any pattern (all for None/empty); a pattern matching none is an error."""
        if not patterns:
            return self.rows
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(row.label, pattern) for row in self.rows):
                labels = ", ".join(row.label for row in self.rows)
                raise Sg2evalError(f"--rows {pattern!r} matches no row of {self.path.name}; rows: {labels}")
        return tuple(row for row in self.rows if any(fnmatch.fnmatchcase(row.label, p) for p in patterns))


def _folder(base: Path, configured: str, override: str | os.PathLike[str] | None, env: str) -> Path:
    chosen = override if override is not None else os.environ.get(env) or None
    if chosen is not None:
        return Path(chosen).expanduser().resolve()
    return (base / Path(configured).expanduser()).resolve()


def _text(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name, "")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise Sg2evalError(f"{where}: {name} must be text, got {value!r}; fix the manifest")
    return str(value)


def _datasets(raw: Any, root: Path, where: str) -> dict[str, DatasetEntry]:
    if not isinstance(raw, dict):
        raise Sg2evalError(f"{where}: [datasets] must be a table of named datasets; see docs/reports.md")
    found = {}
    for name, entry in raw.items():
        place = f"{where} [datasets.{name}]"
        if not isinstance(entry, dict) or "path" not in entry:
            raise Sg2evalError(f'{place} needs a path; add path = "..."')
        found[name] = DatasetEntry(
            name,
            root / Path(_text(entry, "path", place)).expanduser(),
            _text(entry, "how_to_get", place),
            _text(entry, "sha256", place),
        )
    return found


def _row(
    raw: Any, index: int, spec: TableSpec, datasets: dict[str, DatasetEntry], networks: Path, where: str
) -> RowEntry:
    place = f"{where} row {index + 1}"
    if not isinstance(raw, dict):
        raise Sg2evalError(f"{place} is not a table; write it as [[rows]] with key = value lines")
    missing = [name for name in (*spec.keys, "network", "dataset") if name not in raw]
    if missing:
        raise Sg2evalError(
            f"{place} lacks {', '.join(missing)}; {spec.name} rows need {', '.join(spec.keys)}, "
            "network and dataset"
        )
    dataset_name = _text(raw, "dataset", place)
    if dataset_name not in datasets:
        known = ", ".join(datasets) or "none"
        raise Sg2evalError(
            f"{place} names dataset {dataset_name!r}, which no [datasets.*] defines (known: {known})"
        )
    keys = {name: _text(raw, name, place).strip() for name in spec.keys}
    paper_row = spec.paper_row({"dataset": dataset_name, **keys})
    extra = {k: v for k, v in raw.items() if k not in spec.keys and k not in _ROW_FIELDS}
    return RowEntry(
        keys,
        networks / Path(_text(raw, "network", place)).expanduser(),
        datasets[dataset_name],
        _text(raw, "url", place),
        _text(raw, "sha256", place),
        _text(raw, "how_to_get", place),
        {**_registry_fields(paper_row, extra, place), **extra},
        paper_row,
    )


def _registry_fields(row: PaperRow | None, extra: Mapping[str, Any], where: str) -> dict[str, str]:
    """What the registry says of the paper's row ``row`` beyond its identity (Table 4's switches); a manifest
    value that differs is an error."""
    if row is None or row.switches is None:
        return {}
    known = row.switches.columns()
    for name, value in known.items():
        if name in extra and str(extra[name]).strip() != value:
            raise Sg2evalError(
                f"{where} sets {name} = {extra[name]!r}, but {row.citation} has {name} = {value!r} "
                "(sg2model.paper_rows); drop the field"
            )
    return known


def load_manifest(
    path: str | os.PathLike[str],
    table: str | None = None,
    networks_dir: str | os.PathLike[str] | None = None,
    datasets_dir: str | os.PathLike[str] | None = None,
) -> Manifest:
    """Parse a manifest; ``table`` (the command's report name) must agree with the file's ``table``."""
    file = Path(path)
    if not file.is_file():
        raise Sg2evalError(f"manifest {file} does not exist; see docs/reports.md for the shipped ones")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise Sg2evalError(f"{file} is not valid TOML ({error}); fix the manifest") from error
    name = raw.get("table", table)
    if name is None:
        raise Sg2evalError(f'{file} does not say which table it is for; add table = "table1" (or another)')
    if table is not None and name != table:
        raise Sg2evalError(f"{file} is a manifest for {name}, not {table}; run 'sg2eval report {name}'")
    spec = get_table(str(name))
    paths = raw.get("paths", {})
    base = file.resolve().parent
    networks = _folder(base, str(paths.get("networks", ".")), networks_dir, "SG2EVAL_NETWORKS")
    data_root = _folder(base, str(paths.get("datasets", ".")), datasets_dir, "SG2EVAL_DATASETS")
    datasets = _datasets(raw.get("datasets", {}), data_root, file.name)
    rows_raw = raw.get("rows", [])
    if not isinstance(rows_raw, list) or not rows_raw:
        raise Sg2evalError(f"{file} has no [[rows]]; add one per table row")
    rows = tuple(_row(r, i, spec, datasets, networks, file.name) for i, r in enumerate(rows_raw))
    labels = [row.label for row in rows]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise Sg2evalError(f"{file} lists the rows {', '.join(duplicates)} more than once; keep one of each")
    metrics = raw.get("metrics", {})
    unknown = sorted(set(metrics) - set(spec.metrics))
    if unknown:
        raise Sg2evalError(
            f"{file} sets options for {', '.join(unknown)}, which {spec.name} does not compute "
            f"({', '.join(spec.metrics)})"
        )
    options = {metric: _resolve_weight_paths(dict(values), base) for metric, values in metrics.items()}
    return Manifest(file, spec, rows, options, str(raw.get("notes", "")))


def _resolve_weight_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Options named ``*weights`` (detector and LPIPS files) and ``detector = "torchscript:PATH"`` are paths
    relative to the manifest's folder."""
    for name, value in options.items():
        if name.endswith("weights") and isinstance(value, str):
            options[name] = str(base / Path(value).expanduser())
        elif name == "detector" and isinstance(value, str) and value.startswith("torchscript:"):
            options[name] = "torchscript:" + str(base / Path(value.removeprefix("torchscript:")).expanduser())
    return options
