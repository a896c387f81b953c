"""The published values and their alignment with report rows.

The CSVs ship as package data in ``sg2reports/paper_values/`` (one file per table or figure; its README
names the sources). The folder is found in this order: the ``directory`` argument (``--paper-values DIR``),
the environment variable ``SG2EVAL_PAPER_VALUES``, then the packaged copy, so an installed sg2reports needs
no other files.

Rows align by the table's identity columns (``config`` + ``dataset`` for Table 1, ...), compared as text so
that a manifest's ``row = 1`` meets the CSV's ``1``; value columns align by name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sg2eval.errors import Sg2evalError
from sg2reports.tables import TableSpec

ENV_VAR = "SG2EVAL_PAPER_VALUES"
#: The copy shipped with the package (``[tool.setuptools.package-data]`` in pyproject.toml).
PACKAGED = Path(__file__).resolve().with_name("paper_values")


def find_paper_values(directory: str | os.PathLike[str] | None = None) -> Path:
    """The paper-values folder: ``directory``, else ``$SG2EVAL_PAPER_VALUES``, else the packaged copy.

    A folder given explicitly must exist."""
    explicit = directory if directory is not None else os.environ.get(ENV_VAR) or None
    if explicit is None:
        return PACKAGED
    path = Path(explicit).expanduser()
    if not path.is_dir():
        source = "--paper-values" if directory is not None else ENV_VAR
        raise Sg2evalError(
            f"paper values folder {path} ({source}) does not exist; give the folder of the CSVs"
        )
    return path


def load_paper_table(spec: TableSpec, directory: Path) -> pd.DataFrame | None:
    """The published CSV of ``spec`` in ``directory`` (all columns as read); None for figures."""
    if spec.paper_file is None:
        return None
    path = directory / spec.paper_file
    if not path.is_file():
        raise Sg2evalError(
            f"{path} is missing from the paper values folder; restore it or pass --paper-values"
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = set(spec.keys) | {column.name for column in spec.columns}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise Sg2evalError(f"{path} lacks the columns {', '.join(missing)}; it is not the {spec.name} CSV")
    return table


def row_key(spec: TableSpec, row: Mapping[str, Any]) -> tuple[str, ...]:
    """A row's identity as text, in ``spec.keys`` order."""
    return tuple(str(row[key]).strip() for key in spec.keys)


def published_values(spec: TableSpec, table: pd.DataFrame | None, row: Mapping[str, Any]) -> dict[str, float]:
    """``{column: published value}`` for the manifest row ``row`` (NaN where the paper has none)."""
    empty = {column.name: math.nan for column in spec.columns}
    if table is None:
        return empty
    wanted = row_key(spec, row)
    match = table[
        [tuple(str(v).strip() for v in values) == wanted for values in table[list(spec.keys)].values]
    ]
    if len(match) > 1:
        raise Sg2evalError(
            f"{spec.paper_file} has {len(match)} rows for {dict(zip(spec.keys, wanted, strict=True))}"
        )
    if match.empty:
        return empty
    found = match.iloc[0]
    return {column.name: _number(found[column.name]) for column in spec.columns}


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
