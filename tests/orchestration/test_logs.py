"""Flow logs: sentences with numbers, never dict dumps; with LOG_FORMAT=json every console line is one JSON object."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.logs import JsonConsoleHandler, use_log_format
from flows.params import ReportParams
from flows.report import report_flow
from flows.sentences import dedupe_line, draft_line, num, send_line


@pytest.fixture
def report_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Settings of a flow run (a migrated database of its own), and the root handlers restored afterwards."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    root.handlers[:] = handlers


def test_sentences_carry_numbers_not_dicts() -> None:
    assert num(1980) == "1,980" and num(True) == "True"
    dedupe = {
        "companies": 1980,
        "marked_duplicate": 4,
        "restored": 0,
        "cross_query_excluded": 1,
        "errors": [],
    }
    assert dedupe_line(dedupe) == (
        "dedupe: 1,980 companies checked, 4 marked duplicate, 0 restored, 1 excluded as directories"
    )
    draft = {"considered": 13, "drafted": 12, "llm": 10, "fallback": 2, "reused": 0, "skipped": 1}
    assert (
        draft_line(draft)
        == "drafts: 12 written (10 by the LLM, 2 fallback, 0 reused) for 13 companies; 1 skipped"
    )
    sent = {"sent": 40, "sent_today": 42, "stopped_reason": "daily cap of 42 reached", "errors": [{"id": 1}]}
    line = send_line(sent)
    assert line.startswith("send: 40 sent,") and line.endswith("; stopped: daily cap of 42 reached")
    for text in (dedupe_line(dedupe), draft_line(draft), line):
        assert "{" not in text and "[" not in text


@pytest.mark.slow
def test_flow_logs_as_json_lines(report_env: None) -> None:
    stream = io.StringIO()
    use_log_format("json", stream=stream)
    assert any(isinstance(h, JsonConsoleHandler) for h in logging.getLogger().handlers)
    use_log_format("json", stream=stream)  # idempotent: still one handler
    assert sum(isinstance(h, JsonConsoleHandler) for h in logging.getLogger().handlers) == 1

    report_flow(ReportParams(export_csv=False))

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one object
    summary = [e for e in entries if e["message"].startswith("all batches: 0 queries")]
    assert len(summary) == 1 and summary[0]["level"] == "INFO" and summary[0]["flow_run_id"]
    assert summary[0]["logger"] == "prefect.flow_runs"
    assert all({"timestamp", "level", "logger", "message"} <= set(e) for e in entries)


@pytest.mark.slow
def test_flow_logs_as_text_by_default(report_env: None, caplog: pytest.LogCaptureFixture) -> None:
    before = list(logging.getLogger().handlers)
    use_log_format("text")
    assert logging.getLogger().handlers == before
    with caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
        report_flow(ReportParams(export_csv=False))
    messages = [r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs"]
    assert (
        "all batches: 0 queries, 0 pending, 0 operations, 0 results, 0 companies, 0 contacts, 0 messages, 0 sent"
        in messages
    )
    assert not any(m.lstrip().startswith("{") for m in messages)
