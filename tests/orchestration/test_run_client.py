"""Prefect's fixed costs per flow run: one sync API client and one engine per run, one request per slot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import Engine

pytest.importorskip("prefect")

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client

import tasks.limits as limits
from flows.journal import journaled
from flows.runtime import shared_sync_client
from leadgen.db import make_engine, migrate
from tasks.runtime import load_settings, open_engine


class SlotClient:
    """A sync API client that grants `email-daily` slots, after `busy` 423 answers; records every increment."""

    def __init__(self, busy: int = 0, retry_after: str = "0.01") -> None:
        self.busy, self.retry_after = busy, retry_after
        self.increments: list[tuple[list[str], int, str]] = []

    def __enter__(self) -> SlotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def increment_concurrency_slots(self, names: list[str], slots: int, mode: str) -> httpx.Response:
        self.increments.append((names, slots, mode))
        request = httpx.Request("POST", "http://prefect.invalid/api/v2/concurrency_limits/increment")
        if self.busy:
            self.busy -= 1
            response = httpx.Response(423, headers={"Retry-After": self.retry_after}, request=request)
            raise httpx.HTTPStatusError("locked", request=request, response=response)
        return httpx.Response(
            200, json=[{"id": str(uuid4()), "name": names[0], "limit": 100}], request=request
        )


def test_one_slot_is_asked_for_without_reading_the_limit_first(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    def free() -> int:
        reads.append("read")
        return 2

    client = SlotClient()
    monkeypatch.setattr(limits, "free_email_slots", free)
    monkeypatch.setattr(limits, "get_client", lambda sync_client: client)
    assert limits.take_email_slots(1, timeout_seconds=5.0) == 1
    assert (client.increments, reads) == ([([limits.EMAIL_DAILY], 1, "rate_limit")], [])
    # More than one: only what is free is asked for (a denied request would hold back the next ones).
    assert limits.take_email_slots(5, timeout_seconds=5.0) == 2
    assert (client.increments[1:], reads) == ([([limits.EMAIL_DAILY], 2, "rate_limit")], ["read"])


def test_a_busy_limit_is_asked_again_after_its_retry_after_until_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = SlotClient(busy=2)
    monkeypatch.setattr(limits, "get_client", lambda sync_client: client)
    assert limits.take_email_slots(1, timeout_seconds=5.0) == 1
    assert len(client.increments) == 3  # two 423s, then the slot
    # A Retry-After past the timeout: no slot, and no wait for one that cannot come in time.
    slow = SlotClient(busy=1, retry_after="30")
    monkeypatch.setattr(limits, "get_client", lambda sync_client: slow)
    assert limits.take_email_slots(1, timeout_seconds=1.0) == 0
    assert len(slow.increments) == 1


CLIENTS: list[Any] = []  # kept alive, so two clients never share an id


@task(cache_policy=NO_CACHE)
def client_id() -> int:
    with get_client(sync_client=True) as client:
        CLIENTS.append(client)
        return id(client)


def test_the_sync_tasks_of_an_async_flow_run_share_one_client(prefect_api: str) -> None:
    @flow
    async def without() -> list[int]:
        return [client_id(), client_id()]

    @flow
    async def shared() -> list[int]:
        with shared_sync_client():
            return [client_id(), client_id()]

    first, second = asyncio.run(without())
    assert first != second  # each sync task run opened its own client (and TLS context)
    one, other = asyncio.run(shared())
    assert one == other


@pytest.fixture
def journal_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migrated SQLite database as the flow runs' DATABASE_URL (the journal writes a row per run)."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)


@pytest.mark.usefixtures("journal_db")
def test_a_journaled_flow_run_shares_one_client(prefect_api: str) -> None:
    @flow
    @journaled("probe")
    async def probe() -> dict[str, int]:
        return {"first": client_id(), "second": client_id()}

    ids = asyncio.run(probe())
    assert ids["first"] == ids["second"]


@task(cache_policy=NO_CACHE)
def engine_id() -> int:
    with open_engine(load_settings()) as engine:
        return id(engine)


@pytest.mark.usefixtures("journal_db")
def test_the_task_runs_of_a_journaled_flow_run_share_one_engine(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    disposed: list[int] = []
    monkeypatch.setattr(Engine, "dispose", lambda self, close=True: disposed.append(id(self)))

    @flow
    @journaled("probe")
    async def probe() -> dict[str, int]:
        return {"first": engine_id(), "second": engine_id()}

    ids = asyncio.run(probe())
    assert ids["first"] == ids["second"]  # one pool and one statement cache for the run
    assert disposed == [ids["first"]]  # closed once, when the run's journal let go of it
    engine_id.fn()  # outside a run: an engine of its own, disposed at its end
    assert len(disposed) == 2
