"""Fixtures of the Prefect layer: a real `prefect server start` subprocess and the test harness, both per session,
and the sandbox the flow tests run in.

The real server (tests/orchestration/server.py) runs with its own PREFECT_HOME (SQLite) on a free loopback port,
without UI and background services (scheduler, late-run marking: nothing here needs them, and the machine has two
cores). Tests point the client at it with `prefect_api`, which sets PREFECT_API_URL for the duration of one test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from leadgen.clock import ManualClock, utc_now
from leadgen.db import make_engine
from leadgen.settings import Settings
from leadgen_sandbox.stack import SandboxStack, settings_env
from tests.orchestration.server import PrefectServer, ServerStartError, prefect_server_process


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect API server (subprocess) for the whole session."""
    try:
        with prefect_server_process(tmp_path_factory.mktemp("prefect-server")) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc))


def reset_concurrency_services() -> None:
    """Stop Prefect's slot-acquisition services: each keeps the API client it was started with, so a test that
    switches between the harness and the real server must not reuse one started against the other."""
    from prefect.concurrency import services

    for name in ("ConcurrencySlotAcquisitionService", "ConcurrencySlotAcquisitionWithLeaseService"):
        service = getattr(services, name, None)
        if service is not None:
            service.drain_all(timeout=10)


def ship_logs_and_events() -> None:
    """Flush Prefect's background log and event workers to the API, as the test harness does before it stops."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.drain_all(timeout=30), EventsWorker.drain_all(timeout=30)):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


@pytest.fixture
def prefect_api(prefect_server: PrefectServer) -> Iterator[str]:
    """PREFECT_API_URL of the real server, for in-process clients, during one test."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    reset_concurrency_services()
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server.api_url
    reset_concurrency_services()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (temporary SQLite API server), started once for the flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def closed_window(now: datetime, tz: ZoneInfo) -> str:
    """A daily window (`HH:MM-HH:MM` in `tz`) that opens two hours after `now`: closed at `now`."""
    local = now.astimezone(tz)
    return f"{local + timedelta(hours=2):%H}:00-{local + timedelta(hours=3):%H}:59"


class TickingClock(ManualClock):
    """A manual clock that moves a little on every reading, as time does while work happens (no real sleep)."""

    def __init__(self, start: datetime, tick: timedelta = timedelta(milliseconds=200)) -> None:
        super().__init__(start)
        self.tick = tick

    def __call__(self) -> datetime:
        return self.advance(self.tick.total_seconds())


@dataclass
class Sandbox:
    stack: SandboxStack
    settings: Settings
    clock: TickingClock
    engine: Engine


@contextmanager
def open_sandbox(
    stack: SandboxStack,
    clock: TickingClock,
    *,
    db_url: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, Any] | None = None,
) -> Iterator[Sandbox]:
    """Start `stack` (built on `clock`), put settings pointing at it in the environment (as a flow-run container
    has them; `extra` overrides fields), put the Prefect layer on `clock` (no real sleeps), and bootstrap the rate
    limits on the current API."""
    from infra.bootstrap import bootstrap
    from tasks import runtime

    with stack:
        overrides = stack.settings_overrides(workdir) | {"database_url": db_url} | (extra or {})
        for name, value in settings_env(overrides).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(workdir)
        monkeypatch.setattr(runtime, "clock", clock)
        monkeypatch.setattr(runtime, "sleep", clock.sleep)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        reset_concurrency_services()
        bootstrap(settings, pool_type="process", pool_name="flow-tests")
        engine = make_engine(db_url)
        try:
            yield Sandbox(stack, settings, clock, engine)
        finally:
            engine.dispose()


@pytest.fixture
def sandbox(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    """The sandbox services with settings pointing at them, on a ticking manual clock, under the harness."""
    clock = TickingClock(utc_now())
    stack = SandboxStack(max_results=4, time_to_done=0, clock=clock)
    with open_sandbox(stack, clock, db_url=db_url, workdir=tmp_path, monkeypatch=monkeypatch) as box:
        yield box
