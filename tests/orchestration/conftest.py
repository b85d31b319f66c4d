"""Fixtures of the Prefect layer: a real `prefect server start` subprocess and the test harness, both per session.

The real server (tests/orchestration/server.py) runs with its own PREFECT_HOME (SQLite) on a free loopback port,
without UI and background services (scheduler, late-run marking: nothing here needs them, and the machine has two
cores). Tests point the
client at it with `prefect_api`, which sets PREFECT_API_URL for the duration of one test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

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
