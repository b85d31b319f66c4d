"""A batch sink for finished operations: `collect_operations` stores their pages together, then settles them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from leadgen.errors import LeadgenError

# Finished pages held before one store: about 25,000 results at Yandex's 50 a page.
BATCH_PAGES = 500


@dataclass(frozen=True, slots=True)
class FinishedPage:
    """A finished operation's decoded page, waiting to be stored (the operation is still `pending`)."""

    id: int  # serp_operations.id
    operation_id: str
    query_id: int | None
    xml: bytes


StorePages = Callable[[Session, list[FinishedPage]], dict[str, int | LeadgenError]]
"""Stores the pages in the open session; per operation id, the results stored or the error that rejected it."""


@dataclass(frozen=True, slots=True)
class PageStore:
    """Pass as `on_done` to `collect_operations`: finished pages are stored `batch_pages` at a time, each batch in
    one transaction that also marks its operations done (or failed, for a rejected page). Until then an operation
    stays `pending`, so a crash before the store loses nothing: the next round polls it again."""

    store: StorePages
    batch_pages: int = BATCH_PAGES
