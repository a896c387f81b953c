"""The layer contract (scripts/check_layers.py, docs/architecture.md) holds, and it would catch a breach."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _contract() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_points_up() -> None:
    assert [str(v) for v in _contract().violations()] == []


def test_layers_follow_the_architecture() -> None:
    contract = _contract()
    order = [
        contract.layer_of(m)
        for m in (
            "sg2model.core.errors",
            "sg2datasets.images",
            "sg2model.networks",
            "cuda_ops.build",
            "sg2eval.metrics.fid",
            "sg2reports.runner",
            "sg2eval.cli.main",
            "sg2eval.builtin.demo",
        )
    ]
    assert order == [0, 1, 2, 2, 3, 4, 5, 5]
    assert contract.layer_of("torch.nn") is None


def test_upward_imports_are_found_in_every_form() -> None:
    contract = _contract()
    source = (
        "import sg2eval.api\n"
        "from sg2reports import runner\n"
        "def f():\n    from sg2eval.cli.main import cli\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from sg2eval.result import Result\n"
        "from . import images\n"
    )
    found = contract.imported_modules(ast.parse(source), "sg2datasets.shapes", False)
    layers = {name: contract.layer_of(name) for _, name in found}
    assert layers["sg2eval.api"] == layers["sg2eval.result"] == 3
    assert layers["sg2reports"] == 4 and layers["sg2eval.cli.main"] == 5
    assert layers["sg2datasets.images"] == 1  # the relative import resolved within the package
