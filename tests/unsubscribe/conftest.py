"""Fixtures: the one-click service served by a real uvicorn on a loopback port of its own, and a signer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from leadgen.unsubscribe import UnsubscribeLinks, UnsubscribeSigner
from leadgen.unsubscribe.app import create_app

SECRET = "test-unsubscribe-secret-0123456789abcdef"
STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn in a thread on a socket bound here (no free-port race); yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:  # readiness poll of a real server, not a sleep standing in for time
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def signer() -> UnsubscribeSigner:
    return UnsubscribeSigner(SECRET)


@pytest.fixture
def service(engine: Engine, signer: UnsubscribeSigner) -> Iterator[str]:
    """Base URL of the one-click service over the test's own migrated database (SQLite, and Postgres when set)."""
    with serve(create_app(engine, signer)) as base_url:
        yield base_url


@pytest.fixture
def links(service: str, signer: UnsubscribeSigner) -> UnsubscribeLinks:
    """Links that point at the running service (a loopback http base URL, as in the sandbox)."""
    return UnsubscribeLinks(service, signer)
