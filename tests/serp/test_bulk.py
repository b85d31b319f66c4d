"""bulk_ingest (COPY + set-based upserts) stores what ingest_payload stores; Postgres only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgen.db import Company, SerpResult
from leadgen.errors import ConfigurationError
from leadgen.serp import DomainFilter, bulk_ingest, ingest_payload, parse_serp, rows_from_page
from leadgen.settings import Settings
from tests.serp.conftest import fixture_bytes

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PAGES = {"op-a": "page0_moscow_windows.xml", "op-b": "page2_multidoc_missing_tags.xml"}


def _rows(settings: Settings) -> list:
    filt = DomainFilter.from_settings(settings)
    return [
        row for op, name in PAGES.items() for row in rows_from_page(op, parse_serp(fixture_bytes(name)), filt)
    ]


def _state(session: Session) -> tuple[set, set]:
    results = {
        (
            r.operation_id,
            r.url,
            r.domain,
            r.title,
            r.snippet,
            r.position,
            r.page,
            r.skip_reason,
            r.company_id is None,
        )
        for r in session.scalars(select(SerpResult))
    }
    companies = {
        (
            c.canonical_domain,
            c.dedupe_hash,
            c.name,
            c.website_url,
            c.source,
            c.status,
            c.first_seen_at,
            c.last_seen_at,
        )
        for c in session.scalars(select(Company))
    }
    return results, companies


def test_bulk_matches_per_operation_ingest(backend: str, session: Session, settings: Settings) -> None:
    if backend != "postgres":
        with pytest.raises(ConfigurationError):
            bulk_ingest(session, _rows(settings), now=T0)
        return
    report = bulk_ingest(session, _rows(settings), now=T0)
    session.flush()
    assert report.staged == 14 and report.results_inserted == 14 and report.companies_created == 6
    bulk_state = _state(session)
    again = bulk_ingest(session, _rows(settings), now=T0 + timedelta(hours=1))
    assert again.results_inserted == 0 and again.companies_created == 0 and again.companies_seen_again == 0
    session.expire_all()
    state = _state(session)
    assert state[0] ^ bulk_state[0] == set()
    assert state[1] ^ bulk_state[1] == set()

    session.rollback()
    for op, name in PAGES.items():
        ingest_payload(session, settings, operation_id=op, xml=fixture_bytes(name), now=T0)
    session.flush()
    session.expire_all()
    state = _state(session)
    assert state[0] ^ bulk_state[0] == set()
    assert state[1] ^ bulk_state[1] == set()
