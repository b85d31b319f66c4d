"""LOG_FORMAT in flow runs: with `json`, the run's console log lines become one JSON object each (flow_run_id set)."""

from __future__ import annotations

import logging
from typing import TextIO

from prefect.logging.handlers import PrefectConsoleHandler
from prefect.runtime import flow_run

from leadgen.logformat import JsonLineFormatter


class RunIds(logging.Filter):
    """Puts the current flow run's id on records that lack one (leadgen's own loggers, libraries)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "flow_run_id", None):
            run_id = flow_run.get_id()
            if run_id:
                record.flow_run_id = run_id
        return True


class JsonConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stand-in for Prefect's console handler: plain stream writes (no rich markup or wrapping) of JSON."""

    def __init__(self, stream: TextIO | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(stream)
        self.setLevel(level)
        self.setFormatter(JsonLineFormatter())
        self.addFilter(RunIds())


def use_log_format(log_format: str, *, stream: TextIO | None = None) -> None:
    """With `json`, replace Prefect's console handler on the root logger (where flow and task run logs reach the
    process's stderr) by a JsonConsoleHandler on the same stream (or `stream`); `text` keeps Prefect's lines.
    Idempotent. The API handler is left alone: the UI keeps showing plain messages."""
    if log_format != "json":
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, PrefectConsoleHandler):
            root.removeHandler(handler)
            root.addHandler(JsonConsoleHandler(stream or handler.stream, handler.level))
        elif isinstance(handler, JsonConsoleHandler) and stream is not None:
            handler.setStream(stream)
