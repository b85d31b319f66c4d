"""Orchestration benchmarks: batch size of a stage flow (per-task overhead) and the real pace of a global rate limit.

PYTHONPATH=. pytest tests/perf/test_orchestration_bench.py -p no:cacheprovider -o addopts="" -s
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestration.stages import require_stages

require_stages()

from flows.enrich_contacts import enrich_contacts_flow  # noqa: E402
from flows.params import EnrichParams  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.plan import LimitSpec  # noqa: E402
from leadgen.db import make_engine  # noqa: E402
from leadgen.db.engine import write_scope  # noqa: E402
from leadgen.db.models import Company, CompanyStatus  # noqa: E402
from leadgen.settings import Settings  # noqa: E402
from leadgen_sandbox.stack import SandboxStack, settings_env  # noqa: E402
from tests.orchestration import conftest as fixtures  # noqa: E402
from tests.perf.recording import assert_met, record_figure  # noqa: E402

# The orchestration fixtures, shared with this module (tests/perf has no conftest of its own).
prefect_server = fixtures.prefect_server
prefect_api = fixtures.prefect_api
prefect_harness = fixtures.prefect_harness

COMPANIES = 24
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_orchestration_bench.py -p no:cacheprovider -o addopts="" -s'
MIN_BATCH_SPEEDUP = (
    2.0  # one task for 24 companies at least twice as fast as one task each (measured 4.6-5.0x)
)
# The Yandex limiter admits at least 0.9 of YANDEX_RPS (docs/performance.md, "Yandex throughput against the quota")
MIN_LIMITER_PACE = 0.9


@pytest.fixture
def farm_env(
    prefect_harness: None, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxStack]:
    with SandboxStack() as stack:
        for name, value in settings_env(stack.settings_overrides(tmp_path)).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        fixtures.reset_concurrency_services()
        bootstrap(Settings(_env_file=None), pool_type="process", pool_name="bench")  # type: ignore[call-arg]
        yield stack


def seed_companies(url: str, domains: list[str]) -> None:
    engine = make_engine(url)
    with write_scope(engine) as session:
        for domain in domains:
            session.add(
                Company(
                    name=domain,
                    canonical_domain=domain,
                    website_url=f"http://{domain}/",
                    status=CompanyStatus.NEW,
                )
            )
    engine.dispose()


def test_batch_size_of_enrich_flow(
    farm_env: SandboxStack, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same 24 farm companies enriched with one task per company (baseline) and one task per 24."""
    timings = {}
    domains = farm_env.farm.domains(COMPANIES)
    for batch in (1, COMPANIES):
        path = tmp_path / f"bench-{batch}.db"
        shutil.copy(sqlite_template, path)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        seed_companies(f"sqlite:///{path}", domains)
        started = time.perf_counter()
        result = enrich_contacts_flow(EnrichParams(limit=COMPANIES, batch_size=batch))
        timings[batch] = time.perf_counter() - started
        assert result["processed"] == COMPANIES
    print(
        f"\nenrich {COMPANIES} companies: batch 1 (baseline) {timings[1]:.2f} s, batch {COMPANIES} "
        f"{timings[COMPANIES]:.2f} s, ratio {timings[1] / timings[COMPANIES]:.1f}x"
    )
    entry = record_figure(
        "enrich batch of 24 over one task each",
        round(timings[1] / timings[COMPANIES], 2),
        unit="x faster",
        target=MIN_BATCH_SPEEDUP,
        comparison=">=",
        path=f"enrich_contacts_flow on {COMPANIES} site-farm companies under prefect_test_harness (SQLite): "
        "batch_size=24 against batch_size=1",
        command=COMMAND,
        batch_1_s=round(timings[1], 2),
        batch_24_s=round(timings[COMPANIES], 2),
    )
    assert_met(entry)


def test_global_rate_limit_pace(prefect_api: str) -> None:
    """The Yandex limiter's pace on a real server (one worker, 100 slots after its first), against the baseline of
    50 sequential `rate_limit` calls on a 10-slot, 10/s limit (Prefect's primitive, which it no longer uses)."""
    from prefect.concurrency.sync import rate_limit

    from infra.plan import limit_specs
    from tasks.limits import GlobalQuotaLimiter
    from tests.orchestration.test_limits import reset_limits

    reset_limits(LimitSpec("bench-limit", 10, 10.0))
    started = time.perf_counter()
    for _ in range(50):
        rate_limit("bench-limit", strict=True)
    primitive = 40 / max(time.perf_counter() - started, 1e-9)  # after the burst of 10

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    reset_limits(*limit_specs(settings))  # as bootstrap leaves them: 10 rps
    limiter = GlobalQuotaLimiter.from_settings(settings)

    async def pace() -> float:
        await limiter.acquire()  # the first grant
        started = time.perf_counter()
        for _ in range(100):
            await limiter.acquire()
        return 100 / (time.perf_counter() - started)

    grants = asyncio.run(pace())
    print(
        f"\nrate_limit() {primitive:.2f}/s after the burst; GlobalQuotaLimiter {grants:.2f}/s (nominal 10/s)"
    )
    entry = record_figure(
        "Yandex limiter pace, one worker",
        round(grants / settings.yandex_rps, 3),
        unit="x YANDEX_RPS",
        target=MIN_LIMITER_PACE,
        comparison=">=",
        path="100 sequential GlobalQuotaLimiter.acquire() (grants of the bootstrapped yandex-search limits) on a real "
        "prefect server (SQLite), no HTTP; baseline: 50 sequential prefect rate_limit() calls on 10 slots, 10/s",
        command=COMMAND,
        rate_limit_primitive_pace=round(primitive / 10, 3),
    )
    assert_met(entry)
