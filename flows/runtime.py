"""Shared flow plumbing: operator variables with a fallback, and the task runner every flow uses."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner
from prefect.variables import Variable

# Flows run their tasks one after another; a bounded pool (the default is unbounded) for the few that map.
MAX_WORKERS = 4


def task_runner() -> ThreadPoolTaskRunner:
    return ThreadPoolTaskRunner(max_workers=MAX_WORKERS)


def variable_int(name: str, default: int) -> int:
    """An integer Prefect variable (set by `leadgen infra bootstrap`, tuned in the UI), else `default`."""
    value: Any = Variable.get(name, default=default, _sync=True)  # type: ignore[call-arg]  # async flows too
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default
