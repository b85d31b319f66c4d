"""What every task needs at its edge: Settings from the environment, an engine, JSON-safe report dicts."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadgen.clock import Clock, utc_now
from leadgen.db.engine import make_engine
from leadgen.settings import Settings

# Time seams of the Prefect layer. Tasks and flows read them at call time (`runtime.now()`), so in-process
# tests replace them (monkeypatch a ManualClock) and nothing sleeps for real; production keeps the defaults.
clock: Clock = utc_now
sleep: Callable[[float], None] = time.sleep
# The crawler's politeness gaps between requests to one host: their own pair, because in benchmarks they pass on
# a virtual clock that must not move the pipeline's simulated time.
crawl_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
crawl_monotonic: Callable[[], float] = time.monotonic


def now() -> datetime:
    """The current time of the Prefect layer (aware UTC)."""
    return clock()


def current_clock() -> Clock:
    """The clock itself, for leadgen functions that take one (it is looked up now, not at import)."""
    return clock


async def async_sleep(seconds: float) -> None:
    """`sleep` for async code: the event loop's sleep in production, the replaced `sleep` in tests."""
    if sleep is time.sleep:
        await asyncio.sleep(seconds)
    else:
        sleep(seconds)


def load_settings() -> Settings:
    """Settings of this flow run: the environment and `.env` of the working directory (the container's).

    Building Settings reads and validates every field (tens of milliseconds), and every task of a run needs them,
    so they are reused while the environment, the working directory and its `.env` are unchanged.
    """
    env_file = Path(".env")
    try:
        stamp = env_file.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _settings_for(tuple(sorted(os.environ.items())), str(Path.cwd()), stamp)


@functools.lru_cache(maxsize=8)
def _settings_for(environ: tuple[tuple[str, str], ...], cwd: str, env_stamp: int | None) -> Settings:
    return Settings()


# Engines open in this process, by database URL: the engine and how many scopes hold it.
_engines: dict[str, tuple[Engine, int]] = {}
_engines_lock = threading.Lock()


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    """The engine of the database in `settings`, shared by every scope that holds it open at the same time, and
    disposed when the last one closes (tasks may run in short-lived containers).

    A flow run's journal (flows.journal) holds one open for the whole run, so its task runs share one connection
    pool and one compiled-statement cache instead of connecting and compiling afresh in every task run.
    """
    url = settings.database_url
    with _engines_lock:
        engine, users = _engines.get(url) or (make_engine(url), 0)
        _engines[url] = (engine, users + 1)
    try:
        yield engine
    finally:
        with _engines_lock:
            engine, users = _engines.pop(url)
            if users > 1:
                _engines[url] = (engine, users - 1)
        if users == 1:
            engine.dispose()


def jsonable(value: Any) -> Any:
    """Dataclass reports (and what they hold) as plain JSON types: the return value of every task."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
