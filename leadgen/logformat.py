"""LOG_FORMAT=json: one JSON object per log line (timestamp, level, logger, message, run ids) for log shippers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes Prefect's run loggers put on a record (and flows/logs.py adds to any record of a run).
RUN_FIELDS = ("flow_run_id", "flow_run_name", "task_run_id", "task_run_name")


class JsonLineFormatter(logging.Formatter):
    """A record as one line of JSON: `{"timestamp", "level", "logger", "message"}`, plus `flow_run_id` (and the
    other RUN_FIELDS) when the record carries them, and `exception` when it has one. Newlines inside the message
    or the traceback are escaped, so a shipper reads exactly one object per line.

    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonLineFormatter())
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in RUN_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_formatter(log_format: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT: `json` → JsonLineFormatter, anything else the plain text line."""
    return JsonLineFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
