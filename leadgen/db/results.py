"""The row count of a DML statement's result, typed (`Session.execute` is typed as returning a plain `Result`)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any], /) -> int:
    """Rows an UPDATE or DELETE matched (0 when the driver does not say)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)
