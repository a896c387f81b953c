"""The error type of the evaluation layer: a one-line message saying what was wrong and what to do."""

from __future__ import annotations

from sg2model.core.errors import Sg2Error

__all__ = ["Sg2Error", "Sg2evalError"]


class Sg2evalError(Sg2Error):
    """Bad input to a metric, source, detector or command. It derives from the core's
    :class:`~sg2model.core.errors.Sg2Error`, which the networks, loaders and datasets raise: catch
    ``Sg2Error`` to catch both. The CLI prints ``str(error)`` on one line and exits with status 2."""
