"""One-line errors for files that are damaged or crafted: what a reader of an untrusted file may raise.

The readers check what a file claims (sizes, types, layouts) before acting on it; a structure they did not
foresee still ends in a Python error deep inside. :func:`reading_untrusted` turns those into one
:class:`Sg2Error` line naming the file, so that the CLI exits 2 without a traceback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from sg2model.core.errors import Sg2Error

# What malformed data makes Python code raise (MemoryError: an allocation a check did not foresee).
MALFORMED_DATA_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    ZeroDivisionError,
    RecursionError,
    MemoryError,
    EOFError,
)


@contextlib.contextmanager
def reading_untrusted(path: str | os.PathLike[str], error: type[Sg2Error] = Sg2Error) -> Iterator[None]:
    """Raise ``error`` (one line) for malformed-data errors escaping the block that reads ``path``."""
    try:
        yield
    except Sg2Error:
        raise
    except MALFORMED_DATA_ERRORS as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise error(
            f"{os.fspath(path)} is damaged or not a file sg2 tools read ({type(exc).__name__}: {detail})"
        ) from exc
