"""Fault matrix, enrichment: the crawler process killed (SIGKILL) or its database connection killed mid-run,
and two enrichment workers at once — the rerun finishes every company, nothing is left `enriching`.

tests/contacts (issue 6) covers crawler faults per site (timeouts, redirects, huge pages) through the site farm.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from leadgen.clock import ManualClock
from leadgen.contacts import enrich_companies
from leadgen.db.engine import make_engine, write_scope
from leadgen.db.models import Company, CompanyStatus, Contact
from leadgen.settings import Settings
from leadgen_sandbox.site_farm import SiteFarm
from tests.conftest import PG_URL
from tests.reliability.killswitch import KillSwitch

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 30, 5, 30, tzinfo=UTC)
FINAL = {CompanyStatus.ENRICHED, CompanyStatus.NO_CONTACTS, CompanyStatus.UNREACHABLE}


@pytest.fixture
def farm() -> Iterator[SiteFarm]:
    with SiteFarm(seed=3, slow_seconds=0.2) as f:
        yield f


def farm_settings(settings: Settings, farm: SiteFarm) -> Settings:
    return settings.model_copy(
        update={
            "crawl_proxy_url": farm.proxy_url,
            "crawl_timeout_seconds": 2.0,
            "crawl_per_host_delay_seconds": 0.0,
        }
    )


def add_companies(engine: Engine, farm: SiteFarm, count: int) -> list[int]:
    with write_scope(engine) as s:
        rows = [
            Company(name=d, canonical_domain=d, website_url=f"http://{d}/", status=CompanyStatus.NEW)
            for d in farm.domains(count)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def statuses(engine: Engine) -> Counter[str]:
    with write_scope(engine) as s:
        return Counter(s.scalars(select(Company.status)))


def assert_all_finished(engine: Engine, count: int) -> None:
    by_status = statuses(engine)
    assert sum(by_status.values()) == count
    assert set(by_status) <= FINAL, by_status  # nothing stuck in `enriching` or back at `new`
    with write_scope(engine) as s:
        dup = s.execute(
            select(Contact.company_id, Contact.kind, func.lower(Contact.value), func.count())
            .group_by(Contact.company_id, Contact.kind, func.lower(Contact.value))
            .having(func.count() > 1)
        ).all()
    assert not dup


def run_enrich(engine: Engine, settings: Settings, now: datetime, limit: int = 100):  # type: ignore[no-untyped-def]
    return asyncio.run(enrich_companies(engine, settings, limit=limit, now=ManualClock(now)))


KILLED_CRAWLER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import datetime
    from leadgen.clock import ManualClock
    from leadgen.contacts import enrich_companies
    from leadgen.db.engine import make_engine
    from leadgen.settings import Settings

    calls = 0
    async def sleep(seconds):  # the politeness sleep: the process dies after some pages were fetched
        global calls
        calls += 1
        if calls == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)

    settings = Settings(_env_file=None)
    engine = make_engine(settings.database_url)
    now = ManualClock(datetime.fromisoformat(sys.argv[2]))
    asyncio.run(enrich_companies(engine, settings, limit=100, now=now, sleep=sleep))
    """
)


def test_crawler_killed_with_sigkill_then_rerun_finishes_every_company(engine: Engine, db_url: str, settings: Settings, farm: SiteFarm, tmp_path: Path) -> None:  # fmt: skip
    add_companies(engine, farm, 24)
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env |= {"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "CRAWL_PROXY_URL": farm.proxy_url}
    env |= {"CRAWL_TIMEOUT_SECONDS": "2", "CRAWL_PER_HOST_DELAY_SECONDS": "0.001"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_CRAWLER, "20", START.isoformat()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert statuses(engine)[CompanyStatus.ENRICHING] > 0  # killed with companies claimed
    st = farm_settings(settings, farm)
    run_enrich(engine, st, START + timedelta(hours=2))
    assert_all_finished(engine, 24)


@pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL")
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_database_connection_killed_mid_enrichment_then_rerun_finishes(engine: Engine, settings: Settings, farm: SiteFarm, backend: str) -> None:  # fmt: skip
    add_companies(engine, farm, 20)
    st = farm_settings(settings, farm)
    switch = KillSwitch(engine, PG_URL, r"^UPDATE companies SET status", nth=25)  # after the claims
    with switch:
        try:
            run_enrich(engine, st, START)
        except Exception:
            pass
    assert switch.fired
    run_enrich(engine, st, START + timedelta(hours=2))
    assert_all_finished(engine, 20)


@pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL")
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_enrichment_workers_take_disjoint_companies(db_url: str, settings: Settings, farm: SiteFarm, backend: str) -> None:  # fmt: skip
    setup = make_engine(db_url)
    add_companies(setup, farm, 30)
    st = farm_settings(settings, farm)

    async def worker(engine: Engine) -> int:
        claimed = 0
        while report := await enrich_companies(engine, st, limit=4, now=ManualClock(START)):
            if not report.claimed:
                return claimed
            claimed += report.claimed
        return claimed

    async def both() -> list[int]:
        engines = [make_engine(db_url), make_engine(db_url)]
        try:
            return list(await asyncio.gather(*(worker(e) for e in engines)))
        finally:
            for e in engines:
                e.dispose()

    claimed = asyncio.run(both())
    assert sum(claimed) == 30 and all(claimed), claimed
    assert_all_finished(setup, 30)
    setup.dispose()
