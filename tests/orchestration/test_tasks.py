"""The Prefect layer's pure parts: retry policy, task options, JSON reports, artifacts, flow parameters."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import enum
import importlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from flows.artifacts import error_rows, markdown_summary, mask_pii
from flows.params import CollectParams, PipelineParams, PlanParams, SearchParams
from leadgen.errors import (
    AuthError,
    ConfigurationError,
    DatabaseUnavailable,
    MailboxRefused,
    MailboxUnavailable,
    NightWindowViolation,
    QuotaExceeded,
    YandexAPIError,
    YandexUnavailable,
)
from tasks.policy import RETRIES, is_transient, retry_on_transient
from tasks.runtime import jsonable

TASK_MODULES = (
    "planning",
    "search",
    "companies",
    "contacts",
    "outreach",
    "mailbox",
    "funnel_exports",
    "alerts",
)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConfigurationError("NICHES_INPUT is not set"), False),
        (AuthError("401 from IAM"), False),
        (NightWindowViolation("outside", next_allowed=datetime(2026, 1, 1, tzinfo=UTC)), False),
        (YandexAPIError("bad region", status=400, code=3), False),
        (ValueError("bad value"), False),
        (KeyError("missing"), False),
        (RuntimeError("unexpected"), False),
        (MailboxRefused("IMAP server imap.yandex.ru:993 refused the login of sales@x.ru"), False),
        (YandexUnavailable("502 Bad Gateway", status=502), True),
        (MailboxUnavailable("cannot reach IMAP server imap.gmail.com:993 (connect): timed out"), True),
        (QuotaExceeded("429", retry_after=3.0), True),
        (DatabaseUnavailable("cannot connect"), True),
        (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (TimeoutError("no slot"), True),
        (ConnectionResetError("reset"), True),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


class _State:
    def __init__(self, exc: BaseException | None) -> None:
        self.exc = exc

    def result(self) -> None:
        if self.exc is not None:
            raise self.exc


def test_retry_condition_reads_the_failed_state() -> None:
    assert retry_on_transient(None, None, _State(YandexUnavailable("503", status=503))) is True
    assert retry_on_transient(None, None, _State(ConfigurationError("no key"))) is False
    assert retry_on_transient(None, None, _State(None)) is False


def test_every_task_retries_transient_errors_only_and_caches_nothing() -> None:
    from prefect import Task
    from prefect.cache_policies import NO_CACHE

    found = 0
    for name in TASK_MODULES:
        module = importlib.import_module(f"tasks.{name}")
        for value in vars(module).values():
            if isinstance(value, Task) and value.fn.__module__ == module.__name__:
                found += 1
                assert value.retries == RETRIES, value.name
                assert value.retry_condition_fn is retry_on_transient, value.name
                assert value.retry_jitter_factor == 0.5, value.name
                assert value.cache_policy is NO_CACHE, f"{value.name}: side effects must not be cached"
    assert found >= 10


class Colour(enum.StrEnum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class _Item:
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Report:
    count: int
    colour: Colour
    path: Path
    items: list[_Item] = field(default_factory=list)


def test_jsonable_turns_reports_into_plain_json() -> None:
    at = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)
    report = _Report(2, Colour.RED, Path("/tmp/x.csv"), [_Item("timeout", at)])
    assert jsonable(report) == {
        "count": 2,
        "colour": "red",
        "path": "/tmp/x.csv",
        "items": [{"reason": "timeout", "at": "2026-11-26T01:02:03+00:00"}],
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sent to ivan.petrov@firm.ru", "sent to i***@firm.ru"),
        ("a@b.co and Info@Клиника.example.com", "a***@b.co and I***@Клиника.example.com"),
        ("почта@стоматология.рф", "п***@стоматология.рф"),
        ("info@xn--80aswg.xn--p1ai", "i***@xn--80aswg.xn--p1ai"),
        ("no address here, logo@2x", "no address here, logo@2x"),
        ("550 5.1.1 <x.y@mail.ru>: user unknown", "550 5.1.1 <x***@mail.ru>: user unknown"),
    ],
)
def test_mask_pii(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_markdown_summary_and_error_rows() -> None:
    report = {
        "sent": 1,
        "errors": [
            {"item": "message", "reason": "550 user unknown", "id": 7, "key": "boss@acme.ru", "outcome": None}
        ],
    }
    errors = error_rows(report, stage="send")
    assert errors == [
        {"stage": "send", "item": "message", "reason": "550 user unknown", "id": 7, "key": "b***@acme.ru"}
    ]
    text = markdown_summary("Outreach", ["1 sent"], {"sent": 1}, errors)
    assert text.startswith("# Outreach\n")
    assert "| sent | 1 |" in text and "**Errors: 1**" in text and "boss@" not in text
    # a stage's ItemError as `report_dict` gives it: the item's kind and its key (else its id) head the line
    query = {"item": "query", "reason": "QuotaExceeded: 429", "id": 12, "outcome": "retry"}
    company = {"item": "company", "reason": "timeout", "id": 3, "key": "firm.ru"}
    text = markdown_summary("Search", [], {}, error_rows({"errors": [query, company]}, stage="submit"))
    assert "- `query 12`: QuotaExceeded: 429" in text and "- `company firm.ru`: timeout" in text


def test_flow_parameters_validate() -> None:
    assert PipelineParams(batch_tag="spring-2026").collect_wait_seconds == 900
    with pytest.raises(ValidationError):
        PipelineParams()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        PipelineParams(batch_tag="bad tag; drop")
    with pytest.raises(ValidationError):
        SearchParams(limit=0)
    with pytest.raises(ValidationError):
        CollectParams(wait_seconds=-1)
    with pytest.raises(ValidationError):
        PlanParams(batch_tag="x", unknown=True)  # type: ignore[call-arg]


def test_round_watch_keeps_a_row_per_round_and_throttles_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    from uuid import uuid4

    import tasks.search as search
    from leadgen.yandex.rounds import RoundsReport

    shown: list[tuple[object, float]] = []

    async def record(*, artifact_id: object, progress: float) -> None:
        shown.append((artifact_id, progress))

    monkeypatch.setattr(search, "aupdate_progress_artifact", record)
    progress_id = uuid4()
    watch = search.RoundWatch(progress_id, lambda r: r.done / 4)
    asyncio.run(watch(RoundsReport(rounds=1, polled=3, done=1, still_pending=3)))
    assert shown == []  # within PROGRESS_EVERY_SECONDS of the flow creating the bar
    monkeypatch.setattr(search, "PROGRESS_EVERY_SECONDS", 0.0)
    asyncio.run(watch(RoundsReport(rounds=2, polled=6, done=4, still_pending=0)))
    assert shown == [(progress_id, 100.0)]
    assert [row["round"] for row in watch.rows] == [1, 2]
    assert {k: watch.rows[1][k] for k in ("polled", "done", "still_pending")} == {
        "polled": 3,
        "done": 3,
        "still_pending": 0,
    }
