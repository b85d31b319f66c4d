"""Prefect's fixed costs per flow run: one sync API client per run, and no read before a one-slot request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prefect")

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client

import tasks.limits as limits
from flows.journal import journaled
from flows.runtime import shared_sync_client
from leadgen.db import make_engine, migrate


def test_one_slot_is_asked_for_without_reading_the_limit_first(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    reads: list[str] = []

    def free() -> int:
        reads.append("read")
        return 2

    def rate_limit(name: str, *, occupy: int, strict: bool, timeout_seconds: float) -> None:
        assert (name, strict) == (limits.EMAIL_DAILY, True)
        asked.append(occupy)

    monkeypatch.setattr(limits, "free_email_slots", free)
    monkeypatch.setattr(limits, "rate_limit", rate_limit)
    assert limits.take_email_slots(1, timeout_seconds=5.0) == 1
    assert (asked, reads) == ([1], [])
    # More than one: only what is free is asked for (a denied request would hold back the next ones).
    assert limits.take_email_slots(5, timeout_seconds=5.0) == 2
    assert (asked, reads) == ([1, 2], ["read"])


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


def test_a_journaled_flow_run_shares_one_client(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)

    @flow
    @journaled("probe")
    async def probe() -> dict[str, int]:
        return {"first": client_id(), "second": client_id()}

    ids = asyncio.run(probe())
    assert ids["first"] == ids["second"]
