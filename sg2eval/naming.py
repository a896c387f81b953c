"""How an error names the setting that fixes it: a CLI option under the CLI, a Python argument under the API.

Library code speaks of a setting by its Python parameter name (``weights``, ``lpips_weights``, ``num``) and
asks :func:`setting` how to write it for the user: ``weights='FILE'`` by default (the Python API), and
whatever the innermost :func:`naming` scope says otherwise. The CLI's command wrapper
(``sg2eval.cli.main``) opens a scope that looks the parameter up among the running command's own options
(``--lpips-weights FILE`` under ``sg2eval ppl``, nothing under a command without such an option); the report
runner opens one that names the manifest's ``[metrics.NAME]`` table. :func:`setting` returns None where the
user has no such setting, and the message then leaves that advice out.

:func:`weights_parameter` says which parameter an explicit weight file came in through: ``weights`` for a
detector, ``lpips_weights`` for the perceptual distance of PPL and the projector (a distance factory only
sees a file, not the argument it came from).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

#: ``(parameter, value) -> how the user writes it``, or None when the user has no such setting.
Naming = Callable[[str, object], "str | None"]


def python_naming(parameter: str, value: object) -> str:
    """The Python API's spelling: a keyword argument."""
    return f"{parameter}={value!r}"


_NAMING: ContextVar[Naming] = ContextVar("sg2eval_naming", default=python_naming)
_WEIGHTS_PARAMETER: ContextVar[str] = ContextVar("sg2eval_weights_parameter", default="weights")


def setting(parameter: str, value: object) -> str | None:
    """``parameter`` set to ``value`` as the user writes it here (``--weights FILE``, ``weights='FILE'``),
    or None when the running command has no such setting."""
    return _NAMING.get()(parameter, value)


def mention(parameter: str, value: object) -> str:
    """:func:`setting`, or plain words (``num 100``) where the running command has no such setting."""
    return setting(parameter, value) or f"{parameter.replace('_', ' ')} {value}"


@contextlib.contextmanager
def naming(rule: Naming) -> Iterator[None]:
    """Name settings with ``rule`` inside the block (the CLI's commands, the report's manifest)."""
    token = _NAMING.set(rule)
    try:
        yield
    finally:
        _NAMING.reset(token)


def current_weights_parameter() -> str:
    """The parameter an explicit weight file comes in through here (``weights`` unless a caller said)."""
    return _WEIGHTS_PARAMETER.get()


@contextlib.contextmanager
def weights_parameter(parameter: str) -> Iterator[None]:
    """Inside the block, explicit weight files come in through ``parameter`` (e.g. ``lpips_weights``)."""
    token = _WEIGHTS_PARAMETER.set(parameter)
    try:
        yield
    finally:
        _WEIGHTS_PARAMETER.reset(token)
