"""Cached tasks under the Prefect test harness: a retried or rerun flow reuses LLM answers and MX lookups from the
task cache folder (SQLite, and Postgres when configured)."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import asyncio
import inspect
import json
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from flows.outreach import outreach_flow
from flows.params import OutreachParams, PipelineParams
from flows.pipeline import pipeline_flow
from leadgen.cli.app import app
from leadgen.db.engine import write_scope
from leadgen.db.models import OutreachMessage
from leadgen.outreach import drafting
from leadgen.outreach.router import MxAnswer
from tasks import mx
from tasks.cache import cache_files, storage_path
from tasks.runtime import load_settings
from tests.orchestration.conftest import Sandbox, ship_logs_and_events
from tests.outreach.factories import add_company

COMPANIES = 3


def seed(box: Sandbox, count: int = COMPANIES) -> list[int]:
    """Enriched companies with one address each; returns their ids."""
    with write_scope(box.engine) as s:
        return [add_company(s, f"clinic{i}.ru", emails=(f"info@clinic{i}.ru",)).id for i in range(count)]


def run(flow_run_id: UUID | None, params: Any, flow: Any = outreach_flow) -> tuple[UUID, Any]:
    """Run `flow` as a worker does: in a flow run created first, or again in `flow_run_id` (a UI retry)."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import AwaitingRetry

    async def prepare() -> Any:
        async with get_client() as client:
            if flow_run_id is None:
                return await client.create_flow_run(flow, parameters={"params": params})
            # What the UI's Retry does: the failed run goes back to AwaitingRetry, and a worker runs it again.
            await client.set_flow_run_state(flow_run_id, AwaitingRetry(), force=True)
            return await client.read_flow_run(flow_run_id)

    flow_run = asyncio.run(prepare())
    state = run_flow(flow, flow_run=flow_run, parameters={"params": params}, return_type="state")
    if inspect.isawaitable(state):  # an async flow
        state = asyncio.run(state)  # type: ignore[arg-type]
    return flow_run.id, state


def task_states(flow_run_id: UUID, name: str, *, subflows: bool = False) -> list[str]:
    """State names of the task runs of one flow run (or of its subflow runs) whose name starts with `name`,
    oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.sorting import TaskRunSort

    async def read() -> list[str]:
        async with get_client() as client:
            ids = [flow_run_id]
            if subflows:
                children = FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
                ids = [r.id for r in await client.read_flow_runs(flow_run_filter=children)]
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            )
        return [str(r.state_name) for r in runs if r.name.startswith(name)]

    async def settled() -> list[str]:
        # Task run states reach the API as events that the server records in the background: wait (on the
        # server, not on simulated time) until none of the runs is still shown Pending or Running.
        for _ in range(100):
            states = await read()
            if not {"Pending", "Running"} & set(states):
                return states
            await asyncio.sleep(0.1)
        return states

    ship_logs_and_events()
    return asyncio.run(settled())


def drafted(box: Sandbox) -> int:
    """Messages with a draft (queued by the run's queue step since)."""
    with write_scope(box.engine) as s:
        stmt = select(func.count()).where(OutreachMessage.body.is_not(None))
        return int(s.scalar(stmt) or 0)


def test_retry_of_a_failed_run_reuses_the_llm_answers(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(sandbox)
    llm = sandbox.stack.llm
    real_insert = drafting._insert_message

    def disk_full_for_the_last(session: Any, values: dict[str, Any]) -> bool:
        if values["company_id"] == ids[-1]:
            raise ValueError("disk full (test)")  # permanent: the draft task fails without retrying
        return real_insert(session, values)

    monkeypatch.setattr(drafting, "_insert_message", disk_full_for_the_last)
    params = OutreachParams(draft_limit=COMPANIES, send_limit=0)
    run_id, state = run(None, params)
    assert state.is_failed(), state
    assert len(llm.requests) == COMPANIES  # every company's draft was asked for; the last one was not stored
    assert drafted(sandbox) == COMPANIES - 1
    assert task_states(run_id, "llm-draft") == ["Completed"] * COMPANIES

    monkeypatch.setattr(drafting, "_insert_message", real_insert)
    same_id, state = run(run_id, params)  # the UI's Retry
    assert same_id == run_id and state.is_completed(), state
    assert len(llm.requests) == COMPANIES  # no second model call
    assert drafted(sandbox) == COMPANIES
    assert task_states(run_id, "llm-draft") == ["Completed"] * COMPANIES + ["Cached"]

    # A new run after the drafts were deleted (a campaign reset): every answer comes from the cache.
    with write_scope(sandbox.engine) as s:
        s.execute(delete(OutreachMessage))
    rerun_id, state = run(None, params)
    assert state.is_completed(), state
    assert task_states(rerun_id, "llm-draft") == ["Cached"] * COMPANIES
    assert len(llm.requests) == COMPANIES and drafted(sandbox) == COMPANIES

    # The records hold the drafts the database holds and nothing else of the run.
    records = cache_files(load_settings(), ("llm",))
    assert len(records) == COMPANIES
    with write_scope(sandbox.engine) as s:
        bodies = set(s.scalars(select(OutreachMessage.body)))
    for path in records:
        result = json.loads(json.loads(path.read_text())["result"])
        assert set(result) == {"subject", "body"} and result["body"] in bodies


class TtlResolver:
    """MX answers with a chosen TTL; counts the DNS questions."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.lookups: list[str] = []

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        self.lookups.append(domain)
        return MxAnswer((f"mx.{domain}",), ttl=self.ttl)


def test_mx_lookups_are_cached_for_their_ttl(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect import flow

    dns = TtlResolver(ttl=600)
    monkeypatch.setattr(mx, "new_resolver", lambda settings: dns)
    monkeypatch.setenv("ROUTING_MX_LOOKUP", "true")

    @flow(name="mx-lookups")
    def lookups(domains: list[str]) -> list[tuple[str, ...]]:
        resolver = mx.mx_resolver(load_settings())
        assert isinstance(resolver, mx.CachedMxResolver)
        return [resolver.resolve_mx(d).hosts for d in domains]

    assert lookups(["a.ru", "A.ru.", "b.ru"]) == [("mx.a.ru",), ("mx.a.ru",), ("mx.b.ru",)]
    assert dns.lookups == ["a.ru", "b.ru"]
    assert lookups(["a.ru", "b.ru"]) == [("mx.a.ru",), ("mx.b.ru",)]  # another run: from the cache
    assert dns.lookups == ["a.ru", "b.ru"]
    sandbox.clock.advance(601)  # past the records' TTL: asked again, once
    assert lookups(["a.ru", "a.ru"]) == [("mx.a.ru",), ("mx.a.ru",)]
    assert dns.lookups == ["a.ru", "b.ru", "a.ru"]

    monkeypatch.setenv("ROUTING_MX_CACHE_TTL_SECONDS", "60")  # the bound wins over a longer DNS TTL
    sandbox.clock.advance(61)
    assert lookups(["b.ru"]) == [("mx.b.ru",)]
    assert dns.lookups[-1] == "b.ru" and len(dns.lookups) == 4


def test_cache_show_and_clear(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect import flow

    dns = TtlResolver(ttl=600)
    monkeypatch.setattr(mx, "new_resolver", lambda settings: dns)
    monkeypatch.setenv("ROUTING_MX_LOOKUP", "true")

    @flow(name="mx-lookup-once")
    def lookup(domain: str) -> None:
        resolver = mx.mx_resolver(load_settings())
        assert resolver is not None
        resolver.resolve_mx(domain)

    lookup("a.ru")
    folder = storage_path(load_settings())
    assert [p.name.startswith("mx-") for p in folder.iterdir()] == [True]
    runner = CliRunner()
    shown = runner.invoke(app, ["infra", "cache", "show"])
    assert shown.exit_code == 0, shown.output
    assert str(folder) in shown.output and "mx" in shown.output and "1 record" in shown.output
    cleared = runner.invoke(app, ["infra", "cache", "clear", "--kind", "llm"])
    assert cleared.exit_code == 0 and "0 records deleted" in cleared.output, cleared.output
    cleared = runner.invoke(app, ["infra", "cache", "clear"])
    assert cleared.exit_code == 0 and "1 record deleted" in cleared.output, cleared.output
    assert list(folder.iterdir()) == []
    lookup("a.ru")
    assert dns.lookups == ["a.ru", "a.ru"]  # cleared: asked again
    bad = runner.invoke(app, ["infra", "cache", "clear", "--kind", "drafts"])
    assert bad.exit_code == 2 and "drafts" in bad.output, bad.output


def test_clear_deletes_only_records_of_the_kinds_asked(tmp_path: Path) -> None:
    from leadgen.settings import Settings
    from tasks.cache import cache_usage, clear_cache

    settings = Settings(_env_file=None, data_dir=tmp_path, cache_dir="")  # type: ignore[call-arg,arg-type]
    folder = tmp_path.resolve() / "task-cache"
    assert storage_path(settings) == folder  # blank CACHE_DIR: DATA_DIR/task-cache
    assert clear_cache(settings) == 0  # no folder yet
    folder.mkdir()
    for name in ("llm-draft-1", "llm-draft-2", "mx-1", "notes.txt"):
        (folder / name).write_text("{}")
    assert [(u.kind, u.records) for u in cache_usage(settings)] == [("llm", 2), ("mx", 1)]
    assert clear_cache(settings, ("mx",)) == 1
    assert clear_cache(settings) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_an_api_error_is_not_cached(sandbox: Sandbox) -> None:
    seed(sandbox, 1)
    llm = sandbox.stack.llm
    llm.mode = "error"  # HTTP 500: the draft falls back to the template, and nothing is cached
    params = OutreachParams(draft_limit=1, send_limit=0)
    run_id, state = run(None, params)
    assert state.is_completed(), state
    assert task_states(run_id, "llm-draft") == ["Failed"]
    asked = len(llm.requests)
    assert asked >= 1 and cache_files(load_settings(), ("llm",)) == []
    with write_scope(sandbox.engine) as s:
        assert s.scalar(select(OutreachMessage.composer)) == "fallback"
        s.execute(delete(OutreachMessage))
    llm.mode = "ok"  # the next run asks the model again
    rerun_id, state = run(None, params)
    assert state.is_completed() and task_states(rerun_id, "llm-draft") == ["Completed"]
    assert len(llm.requests) == asked + 1 and len(cache_files(load_settings(), ("llm",))) == 1


@pytest.mark.slow
def test_ui_retry_of_a_failed_pipeline_run_asks_the_model_nothing_twice(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = sandbox.stack.llm
    real_insert = drafting._insert_message
    drafts: list[int] = []

    def fail_the_second_draft(session: Any, values: dict[str, Any]) -> bool:
        if values.get("body") is not None:
            drafts.append(values["company_id"])
            if len(drafts) == 2:
                raise ValueError("disk full (test)")  # permanent: the outreach stage fails, and the pipeline
        return real_insert(session, values)

    monkeypatch.setattr(drafting, "_insert_message", fail_the_second_draft)
    params = PipelineParams(batch_tag="demo", search_limit=50, collect_wait_seconds=120, enrich_limit=50)
    run_id, state = run(None, params, pipeline_flow)
    assert state.is_failed(), state
    asked = len(llm.requests)
    assert asked == 2 and drafted(sandbox) == 1  # the second answer was paid for and lost with the run

    monkeypatch.setattr(drafting, "_insert_message", real_insert)
    _, state = run(run_id, params, pipeline_flow)  # the UI's Retry of the pipeline run
    assert state.is_completed(), state
    states = task_states(run_id, "llm-draft", subflows=True)
    assert states.count("Cached") == 1 and states.count("Completed") == len(states) - 1
    # Every model call of both attempts was a different request: none was asked twice.
    bodies = Counter(json.dumps(r.get("messages"), ensure_ascii=False, sort_keys=True) for r in llm.requests)
    assert len(llm.requests) > asked and max(bodies.values()) == 1
    assert drafted(sandbox) == len(llm.requests)
