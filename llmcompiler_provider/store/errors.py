"""The store's one exception type and a one-line description of any error."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The metrics store could not be reached or written; the message is one clear sentence."""


def describe_error(exc: BaseException) -> str:
    """The first line of the driver's own message (not SQLAlchemy's SQL dump), or the error's type."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__
