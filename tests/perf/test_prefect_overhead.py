"""Prefect's share of wall time: the same month-run steps once as direct stage calls, once through the flows.

Run: `make bench`, or `PYTHONPATH=. pytest tests/perf/test_prefect_overhead.py -p no:cacheprovider -o addopts="" -s`.
Both runs use the same sandbox, plan and simulated clock (`tasks.runtime.clock` is the run's ManualClock, its
`sleep` a no-op, as in tests/orchestration); the flows run under Prefect's test harness (a local API server on
SQLite) with the global concurrency limits bootstrapped. Figures go to docs/performance.md.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

pytest.importorskip("prefect")
pytest.importorskip("flows.pipeline", reason="needs issue 9 (flows) merged")
pytest.importorskip("leadgen.contacts", reason="needs issue 6 (contacts) merged")

from flows.collect_results import collect_results_flow
from flows.enrich_contacts import enrich_contacts_flow
from flows.night_search import night_search_flow
from flows.outreach import outreach_flow
from flows.params import CollectParams, EnrichParams, OutreachParams, SearchParams
from infra.bootstrap import bootstrap
from leadgen.bench import MonthConfig, run_month
from leadgen.bench.context import StageContext
from leadgen.bench.month import OFFER
from tasks import runtime

GROUPS = ("night (search + collect + ingest)", "morning (dedupe + enrich)", "day (draft + queue + send)")


def settings_env(settings: Any) -> dict[str, str]:
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        env[name.upper()] = str(value)
    return env


class FlowStages:
    """The month run's steps through the deployed flows (night_search, collect_results, enrich, outreach)."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    @classmethod
    @asynccontextmanager
    async def open(cls, ctx: StageContext) -> AsyncIterator[FlowStages]:
        offer = ctx.config.workdir / "offer.yaml"
        offer.write_text(json.dumps(OFFER, ensure_ascii=False), encoding="utf-8")
        settings = ctx.settings.model_copy(
            update={"outreach_offer_file": offer, "prefect_email_burst": 100_000, "prefect_batch_size": 100}
        )
        saved = dict(os.environ)
        os.environ.update(settings_env(settings))
        clock, sleep = runtime.clock, runtime.sleep
        runtime.clock, runtime.sleep = ctx.clock, (lambda _s: None)
        try:
            await asyncio.to_thread(bootstrap, settings, pool_type="process", pool_name="bench")
            yield cls(ctx)
        finally:
            runtime.clock, runtime.sleep = clock, sleep
            os.environ.clear()
            os.environ.update(saved)

    async def night_step(self) -> None:
        await asyncio.to_thread(night_search_flow, SearchParams(limit=500))
        await asyncio.to_thread(collect_results_flow, CollectParams(limit=1000, wait_seconds=0))

    async def morning(self) -> None:
        await asyncio.to_thread(enrich_contacts_flow, EnrichParams(limit=100_000))

    async def working_day(self) -> tuple[int, int]:
        cap = self.ctx.config.daily_cap
        result = await asyncio.to_thread(
            outreach_flow, OutreachParams(draft_limit=2 * cap, send_limit=2 * cap)
        )
        return int(result.get("sent", 0)), 0


@pytest.mark.timeout(1800)
def test_prefect_share_of_wall_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls to the internet
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")

    base = MonthConfig(workdir=tmp_path / "direct", days=3, niches=6, cities=4, night_step_minutes=30)
    direct = run_month(base, progress=print)
    with prefect_test_harness(server_startup_timeout=120):
        via = run_month(replace(base, workdir=tmp_path / "flows"), stages=FlowStages.open, progress=print)
    rows = {}
    for group in GROUPS:
        d, f = direct.stage_seconds[group], via.stage_seconds[group]
        rows[group] = {
            "direct_s": round(d, 2),
            "flows_s": round(f, 2),
            "prefect_share": round((f - d) / f, 3),
        }
    d_total = sum(direct.stage_seconds[g] for g in GROUPS)
    f_total = sum(via.stage_seconds[g] for g in GROUPS)
    share = (f_total - d_total) / f_total
    figures = {
        "groups": rows,
        "direct_s": round(d_total, 2),
        "flows_s": round(f_total, 2),
        "prefect_share": round(share, 3),
        "direct": {k: v for k, v in asdict(direct).items() if k != "stage_seconds"},
        "flows": {k: v for k, v in asdict(via).items() if k != "stage_seconds"},
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    out = os.environ.get("LEADGEN_BENCH_OUT")
    if out:
        Path(out).with_suffix(".prefect.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    # The same searching, ingesting and crawling was done. Sending may fall short through the flows: every message
    # takes a slot of the `email-daily` global limit, whose slots decay in real time, not on the simulated clock.
    assert (via.unique_companies, via.companies_enriched) == (
        direct.unique_companies,
        direct.companies_enriched,
    )
    assert via.sink_count == via.sent <= direct.sent
