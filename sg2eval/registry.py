"""Open registries by name: detectors and perceptual distances are found here, never in an ``if`` chain.

A :class:`Registry` maps a name to a factory. The toolkit registers its own entries with
:meth:`Registry.register`; other packages (and the built-in default's in-domain detectors) declare theirs as
Python entry points of the registry's group (``[project.entry-points."sg2eval.detectors"]`` in their
``pyproject.toml``: ``name = "module:factory"``), loaded the first time a name is not found, so the library
names no plug-in. Names are lower-case words joined by ``-`` or ``.``; registering a taken name needs
``replace=True``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from sg2eval.errors import Sg2evalError

F = TypeVar("F", bound=Callable[..., object])
_NAME = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*$")


class Registry(Generic[F]):
    """Factories of one kind (``what``, e.g. "detector") by name, with plug-ins from entry-point ``group``."""

    def __init__(self, what: str, group: str) -> None:
        self.what = what
        self.group = group
        self._factories: dict[str, F] = {}
        self._plugins_loaded = False

    def register(self, name: str, factory: F, *, replace: bool = False) -> None:
        """Make ``factory`` available as ``name``; refuses bad names, non-callables and silent overrides."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise Sg2evalError(
                f"{self.what} name {name!r} is not valid; use lower-case letters, digits, '-' and '.'"
            )
        if not callable(factory):
            raise Sg2evalError(f"the {self.what} factory for {name!r} is not callable")
        if name in self._factories and not replace and self._factories[name] is not factory:
            raise Sg2evalError(f"a {self.what} named {name!r} is already registered; pass replace=True")
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        """Every registered name, plug-ins included, sorted."""
        self._load_plugins()
        return tuple(sorted(self._factories))

    def get(self, name: str) -> F:
        """The factory registered as ``name``; an unknown name is one line listing the known ones."""
        if name not in self._factories:
            self._load_plugins()
        if name not in self._factories:
            raise Sg2evalError(f"unknown {self.what} {name!r}; known: {', '.join(self.names())}")
        return self._factories[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._factories or name in self.names())

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self.group):
            if point.name not in self._factories:
                self.register(point.name, point.load())
