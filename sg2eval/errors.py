"""The one exception type users see: a one-line message saying what was wrong and what to do."""

from __future__ import annotations


class Sg2evalError(Exception):
    """Bad input or a missing file. The CLI prints ``str(error)`` on one line and exits with status 2."""
