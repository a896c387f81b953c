"""The base error of bad input, shared by every layer of the toolkit."""

from __future__ import annotations


class Sg2Error(Exception):
    """Bad input or a missing file, said in one line: what was wrong and what to do.

    Every layer raises this type (or a subclass: sg2eval's :class:`sg2eval.errors.Sg2evalError`); the CLI
    prints ``str(error)`` on one line and exits with status 2. Catch ``Sg2Error`` to catch them all.
    """
