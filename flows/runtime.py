"""Shared flow plumbing: operator variables with a fallback, the task runner and API client every flow run shares, the
night check."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import certifi
from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import SyncClientContext
from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.variables import Variable
from pydantic import ValidationError

from flows.artifacts import publish
from flows.logs import use_log_format
from leadgen.settings import Settings
from leadgen.yandex import night_window
from tasks.runtime import load_settings

# Flows run their tasks one after another; a bounded pool (the default is unbounded) for the few that map.
MAX_WORKERS = 4


def _use_configured_log_format() -> None:
    """LOG_FORMAT for every flow run of this process, set when the flow modules load (before the engine's first
    line about the run). Settings that do not validate are left to the flow's own `load_settings` to report."""
    try:
        log_format = load_settings().log_format
    except ValidationError:  # the run's own load_settings reports it
        return
    use_log_format(log_format)


_use_configured_log_format()


def task_runner() -> TaskRunner[Any]:
    return ThreadPoolTaskRunner(max_workers=MAX_WORKERS)


@contextmanager
def shared_sync_client() -> Iterator[None]:
    """One sync API client for the sync task runs and slot requests of a flow run (the current one, if any).

    Inside an async flow Prefect opens no sync client, so every sync task run, and every
    `get_client(sync_client=True)` call (email-daily slots), would open its own: a new HTTP client with a new TLS
    context, 20-60 ms each on this machine, most of a sync task run's overhead. Inside this scope they reuse one,
    and its TLS context is the process's one (`tls_context`), not built afresh for every flow run.
    """
    if SyncClientContext.get() is not None:
        yield
        return
    # Built around a client of our own making: `get_client` hands out a context's client only to callers that ask
    # with the context's httpx settings, which every caller leaves at None.
    client = get_client(sync_client=True, httpx_settings={"verify": tls_context()})
    with SyncClientContext.model_construct(client=client):
        yield


def tls_context() -> ssl.SSLContext:
    """The TLS context Prefect's client would build for the API (PREFECT_API_TLS_INSECURE_SKIP_VERIFY,
    PREFECT_API_SSL_CERT_FILE or certifi's bundle), built once per process for each pair of those settings:
    loading the CA bundle is most of the cost of a new client."""
    return _tls_context(
        bool(PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value()), PREFECT_API_SSL_CERT_FILE.value() or ""
    )


@functools.lru_cache(maxsize=4)
def _tls_context(insecure: bool, cert_file: str) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cert_file or certifi.where())


def variable_int(name: str, default: int) -> int:
    """An integer Prefect variable (set by `leadgen infra bootstrap`, tuned in the UI), else `default`."""
    # `_sync=True` (Prefect's async_dispatch switch) is not in Variable.get's typed overloads
    return _as_int(Variable.get(name, default=default, _sync=True), default)  # type: ignore[call-overload]


async def avariable_int(name: str, default: int) -> int:
    """`variable_int` for async flows (through the flow run's API client)."""
    return _as_int(await Variable.aget(name, default=default), default)


def _as_int(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def outside_night_window(
    key: str, title: str, settings: Settings, now: datetime, **extra: Any
) -> dict[str, Any] | None:
    """None inside NIGHT_WINDOW; outside it, log and publish that no API call was made and when the window
    opens, and return the run's result (`in_window`, `next_window_start`, and `extra`)."""
    window = night_window(settings)
    if window.contains(now):
        return None
    opens = window.next_start(now)
    local = opens.astimezone(settings.tz)
    message = f"outside the night window {window}: no API call made; next window opens {local.isoformat()}"
    get_run_logger().info(message)
    result = {"in_window": False, "next_window_start": opens.isoformat(), **extra}
    publish(key, f"{title}: outside the window", lines=[message], stats=result)
    return result
