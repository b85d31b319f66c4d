"""Fixtures of the Prefect layer: a real `prefect server start` subprocess and the test harness, both per session.

The real server runs with its own PREFECT_HOME (SQLite) on a free loopback port, without UI and background
services (scheduler, late-run marking: nothing here needs them, and the machine has two cores). Tests point the
client at it with `prefect_api`, which sets PREFECT_API_URL for the duration of one test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 90.0


@dataclass(frozen=True, slots=True)
class PrefectServer:
    """A running `prefect server start` subprocess."""

    api_url: str
    home: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a `prefect` CLI subprocess talking to this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.home / "client"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        env.update(extra)
        return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect API server (subprocess) for the whole session."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    log_path = home / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-ui", "--no-services"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    api_url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prefect server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT:.0f} s")
            time.sleep(0.3)
        yield PrefectServer(api_url=api_url, home=home, log=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
