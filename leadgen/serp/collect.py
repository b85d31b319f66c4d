"""What a collect round does with finished pages: COPY them in batches on PostgreSQL, upsert each on SQLite."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.errors import LeadgenError
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import make_on_done
from leadgen.serp.pages import Payload, ingest_pages
from leadgen.settings import Settings
from leadgen.yandex.collect import OnDone
from leadgen.yandex.pagestore import FinishedPage, PageStore


def page_store(settings: Settings, *, now: datetime | Clock) -> PageStore:
    """A `PageStore` whose batches go through `ingest_pages` (COPY on PostgreSQL); a page that does not parse
    fails its operation with the parse error, the others are stored."""
    domain_filter = DomainFilter.from_settings(settings)

    def store(session: Session, pages: list[FinishedPage]) -> dict[str, int | LeadgenError]:
        payloads = [Payload(page.operation_id, page.xml, page.query_id) for page in pages]
        report = ingest_pages(session, settings, payloads, now=now, domain_filter=domain_filter)
        outcomes: dict[str, int | LeadgenError] = {op: r.results for op, r in report.reports.items()}
        outcomes.update(report.rejected)
        return outcomes

    return PageStore(store)


def make_collector(settings: Settings, engine: Engine, *, now: datetime | Clock) -> OnDone | PageStore:
    """The `on_done` of production collect rounds (`collect_operations`, `run_night`): on PostgreSQL a
    `PageStore` (finished pages COPYed in batches), elsewhere the per-page upsert of `make_on_done`."""
    if engine.dialect.name == "postgresql":
        return page_store(settings, now=now)
    return make_on_done(settings, now=now)
