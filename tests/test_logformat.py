"""LOG_FORMAT: one JSON object per line from the CLI (a real subprocess), plain text lines by default."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadgen.logformat import JsonLineFormatter

ROOT = Path(__file__).resolve().parents[1]


def test_a_record_is_one_json_line_with_its_run_ids() -> None:
    record = logging.LogRecord("leadgen.x", logging.ERROR, __file__, 1, "two\nlines: %d", (42,), None)
    record.flow_run_id = "5c9e6d2a"
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (
        entry["message"] == "two\nlines: 42" and entry["level"] == "ERROR" and entry["logger"] == "leadgen.x"
    )
    assert entry["flow_run_id"] == "5c9e6d2a" and "ValueError: boom" in entry["exception"]
    assert entry["timestamp"].endswith("+00:00")


def _upgrade(tmp_path: Path, **env: str) -> list[str]:
    """stderr lines of `leadgen db upgrade` on a fresh SQLite file (Alembic logs a line per migration)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "DATABASE_"))}
    environ |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **env}
    done = subprocess.run(
        [sys.executable, "-m", "leadgen", "db", "upgrade"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stderr.splitlines()


def test_cli_json_logs_parse_line_by_line(tmp_path: Path) -> None:
    lines = _upgrade(tmp_path, LOG_FORMAT="json")
    entries = [json.loads(line) for line in lines]  # every line, or the test fails here
    assert len(entries) >= 3
    assert {"timestamp", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("Running upgrade") for e in entries)


def test_cli_text_logs_by_default(tmp_path: Path) -> None:
    lines = _upgrade(tmp_path)
    assert lines and any("INFO alembic.runtime.migration: Running upgrade" in line for line in lines)
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)


def test_the_prefect_logging_config_writes_json_lines(tmp_path: Path) -> None:
    """infra/logging-json.yml, loaded by Prefect through PREFECT_LOGGING_SETTINGS_PATH, writes JSON lines."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}
    environ |= {
        "PYTHONPATH": str(ROOT),
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_LOGGING_SETTINGS_PATH": str(ROOT / "infra" / "logging-json.yml"),
    }
    script = (
        "import logging\nfrom prefect import flow  # Prefect sets up logging here\n"
        "logging.getLogger('prefect.x').warning('two\\nlines')\nlogging.getLogger('leadgen.y').error('three')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=True
    )
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("prefect.x", "two\nlines"),
        ("leadgen.y", "three"),
    ]
