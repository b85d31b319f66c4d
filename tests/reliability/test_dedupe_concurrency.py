"""Fault matrix: two dedupe runs at once on Postgres — the result is the same as one run, whatever the interleaving.

tests/companies/test_dedupe.py (issue 5) checks the rules and that a second run changes nothing; here two runs
overlap in time, each in its own transaction and connection.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from leadgen.companies import dedupe_companies
from leadgen.db.engine import make_engine, write_scope
from leadgen.db.models import Company, CompanyStatus
from leadgen.domains import dedupe_hash
from leadgen.settings import Settings
from tests.conftest import PG_URL
from tests.support.threads import run_in_threads

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL"),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
GROUPS = 25


def test_two_dedupe_runs_at_once_end_like_one(db_url: str, settings: Settings, backend: str) -> None:
    setup = make_engine(db_url)
    with write_scope(setup) as s:
        for i in range(GROUPS):
            d = f"okna{i}.ru"
            s.add(Company(name=f"Окна {i}", canonical_domain=d, dedupe_hash=dedupe_hash(d), created_at=T0 + timedelta(minutes=3 * i)))  # fmt: skip
            s.add(Company(name=f"Окна {i} www", canonical_domain=f"www.{d}", dedupe_hash=f"{i:040d}", created_at=T0 + timedelta(minutes=3 * i + 1)))  # fmt: skip
            s.add(Company(name=None, canonical_domain=f"M.{d.upper()}.", website_url=f"https://m.{d}/", created_at=T0 + timedelta(minutes=3 * i + 2)))  # fmt: skip
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            with write_scope(engine) as s:
                dedupe_companies(s, settings)
            outcomes.append("ok")
        except DBAPIError as exc:  # a deadlock or a lost race is acceptable if a rerun fixes it
            outcomes.append(f"db error: {type(exc.orig).__name__}")
        finally:
            engine.dispose()

    run_in_threads(worker)
    assert len(outcomes) == 2 and "ok" in outcomes, outcomes
    with write_scope(setup) as s:
        dedupe_companies(s, settings)  # the next scheduled run: must change nothing more
    with write_scope(setup) as s:
        rows = list(s.scalars(select(Company).order_by(Company.id)))
    setup.dispose()
    primaries = [r for r in rows if r.status == CompanyStatus.NEW]
    assert sorted(r.canonical_domain for r in primaries) == sorted(f"okna{i}.ru" for i in range(GROUPS))
    by_id = {r.id: r for r in rows}
    for r in rows:
        if r.status == CompanyStatus.DUPLICATE:
            primary = by_id[r.duplicate_of_id]
            assert primary.status == CompanyStatus.NEW and r.canonical_domain is None
    assert sum(r.status == CompanyStatus.DUPLICATE for r in rows) == 2 * GROUPS
