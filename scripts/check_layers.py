#!/usr/bin/env python3
"""The import contract of the toolkit's layers (docs/architecture.md): dependencies point one way.

Every module of the packages below is put in the layer of the longest matching name prefix; each of its
imports (module level, inside functions and under ``TYPE_CHECKING`` alike) of another toolkit module must
reach the same layer or one below. Exit status 1 lists every import that points up.

    python scripts/check_layers.py        # from the repository root (nox -s lint and dev.py test run it)
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Package roots: import name -> folder.
PACKAGES = {
    "sg2model": ROOT / "sg2model",
    "cuda_ops": ROOT / "cuda_ops",
    "sg2datasets": ROOT / "datasets" / "sg2datasets",
    "sg2eval": ROOT / "sg2eval",
    "sg2reports": ROOT / "reports" / "sg2reports",
}
#: Layers from the bottom up; a layer lists module-name prefixes (the longest matching prefix decides).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("sg2model.core",)),
    ("data", ("sg2datasets",)),
    ("models", ("sg2model", "cuda_ops")),
    ("evaluation", ("sg2eval",)),
    ("reports", ("sg2reports",)),
    ("applications", ("sg2eval.cli", "sg2eval.builtin", "sg2eval.__main__")),
)


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    module_layer: str
    imported_layer: str

    def __str__(self) -> str:
        return (
            f"{self.module}:{self.line} ({self.module_layer}) imports {self.imported} ({self.imported_layer})"
        )


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of ``module``'s layer; None for modules outside the toolkit."""
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def module_name(package: str, folder: Path, file: Path) -> str:
    parts = [package, *file.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``; relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
    return found


def violations() -> list[Violation]:
    out: list[Violation] = []
    for package, folder in PACKAGES.items():
        for file in sorted(folder.rglob("*.py")):
            module = module_name(package, folder, file)
            own = layer_of(module)
            assert own is not None, module
            tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
            reported: set[int] = set()  # one violation per import statement
            for line, imported in imported_modules(tree, module, file.name == "__init__.py"):
                target = layer_of(imported)
                if target is not None and target > own and line not in reported:
                    reported.add(line)
                    out.append(Violation(module, line, imported, LAYERS[own][0], LAYERS[target][0]))
    return out


def main() -> int:
    found = violations()
    for violation in found:
        print(f"layer contract: {violation}", file=sys.stderr)
    if found:
        print(f"layer contract: {len(found)} import(s) point up (docs/architecture.md)", file=sys.stderr)
        return 1
    print(f"layer contract: ok ({' < '.join(name for name, _ in LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
