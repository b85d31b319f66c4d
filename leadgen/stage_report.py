"""The one shape every stage reports in: a frozen dataclass of counts plus `errors`, a tuple of `ItemError`.

A stage never stops for one bad item: it records an `ItemError` (what the item is, which one, why, and what became
of it) and goes on. Every `*Report` dataclass a stage returns has an `errors: tuple[ItemError, ...]` field
(`tests/test_stage_report.py` checks each one), so the CLI, the flows' artifacts and the logs read the errors of
any stage the same way, through `report_dict`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ItemError:
    """One item a stage could not finish, and why; the stage went on with the rest.

    `item` names the kind of thing ("query", "operation", "page", "company", "message", "row", "route"), `id` its
    row id or other handle, `key` a human handle where one helps (a domain, a URL, a route name), `outcome` what
    became of it where it is not simply "failed" ("retry", "requeued", "skipped", "unreachable").
    """

    item: str
    reason: str
    id: int | str | None = None
    key: str | None = None
    outcome: str | None = None


@runtime_checkable
class StageReport(Protocol):
    """What every stage returns: a frozen dataclass whose `errors` are the items it could not finish."""

    @property
    def errors(self) -> tuple[ItemError, ...]: ...


def report_dict(report: StageReport) -> dict[str, Any]:
    """A report as plain JSON-ready data: its counts, and `errors` as a list of dicts without empty fields."""
    if not dataclasses.is_dataclass(report) or isinstance(report, type):
        raise TypeError(f"{type(report).__name__} is not a stage report dataclass")
    data = dataclasses.asdict(report)
    data["errors"] = [{k: v for k, v in error.items() if v is not None} for error in data.get("errors") or []]
    return data
