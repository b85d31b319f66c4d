"""A real `prefect server start` subprocess on a free loopback port, with its own PREFECT_HOME (and database)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 90.0


class ServerStartError(RuntimeError):
    """The server exited or did not answer /health in time; the message ends with its log."""


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


@contextmanager
def prefect_server_process(
    home: Path,
    *,
    database_url: str | None = None,
    services: bool = False,
    timeout: float = SERVER_START_TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> Iterator[PrefectServer]:
    """Start `prefect server start` (no UI) and stop it on exit.

    `database_url` (e.g. `postgresql+asyncpg://…/prefect`, as docker-compose deploys it) replaces the SQLite file
    in `home`. `services=False` leaves out the scheduler, late-run marking and the other loops that tests do not
    need; `True` runs them, as in production. `extra_env` adds server settings (e.g. to switch single services
    off with `PREFECT_SERVER_SERVICES_<NAME>_ENABLED=false`).
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = home / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    env.update(extra_env or {})
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    if not services:
        cmd.append("--no-services")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    api_url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise ServerStartError(f"prefect server exited with {proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise ServerStartError(f"prefect server not healthy after {timeout:.0f} s:\n{tail}")
            time.sleep(0.3)
        yield PrefectServer(api_url=api_url, home=home, log=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
