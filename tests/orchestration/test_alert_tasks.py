"""The alert tasks (tasks/alerts.py) through `task.fn()`: which event each emits, with which resource and figures,
and that nothing is emitted when the condition does not hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadgen.alerts import EVENT_BOUNCE_RATE, EVENT_CAP_EARLY, EVENT_NIGHT_BACKLOG
from leadgen.clock import ManualClock
from leadgen.db.models import MessageStatus, OperationStatus, OutreachMessage, SerpOperation
from tasks import alerts, runtime

MORNING = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)  # 10:30 in Moscow


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch, db_url: str) -> list[dict[str, Any]]:
    """Events the tasks emit (recorded instead of sent), with settings pointing at the test database."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(alerts, "emit_event", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(runtime, "clock", ManualClock(MORNING))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("OUTREACH_DAILY_CAP", "3")
    monkeypatch.setenv("ALERT_BOUNCE_MIN_SENT", "3")
    return calls


def _add(engine: Engine, *rows: object) -> None:
    with Session(engine) as session, session.begin():
        session.add_all(rows)


def test_quiet_day_emits_nothing(emitted: list[dict[str, Any]], engine: Engine) -> None:
    with disable_run_logger():
        night = alerts.night_backlog_alert_task.fn()
        bounces = alerts.bounce_rate_alert_task.fn()
        cap = alerts.daily_cap_alert_task.fn()
    assert emitted == []
    assert not night["alerted"] and not cap["alerted"] and cap["used"] == 0
    assert [d["alerted"] for d in bounces["days"]] == [False, False]


def test_each_condition_emits_its_event(emitted: list[dict[str, Any]], engine: Engine) -> None:
    sent_at = MORNING - timedelta(hours=1)
    _add(
        engine,
        SerpOperation(
            operation_id="op-1", status=OperationStatus.PENDING, submitted_at=MORNING - timedelta(days=1)
        ),
        OutreachMessage(campaign="c", to_email="a@example.com", status=MessageStatus.SENT, sent_at=sent_at),
        OutreachMessage(
            campaign="c", to_email="b@example.com", status=MessageStatus.BOUNCED, sent_at=sent_at
        ),
        OutreachMessage(campaign="c", to_email="c@example.com", status=MessageStatus.SENT, sent_at=sent_at),
    )
    with disable_run_logger():
        assert alerts.night_backlog_alert_task.fn()["alerted"]
        assert alerts.bounce_rate_alert_task.fn()["days"][1]["alerted"]
        assert alerts.daily_cap_alert_task.fn()["alerted"]
    by_event = {call["event"]: call for call in emitted}
    assert list(by_event) == [EVENT_NIGHT_BACKLOG, EVENT_BOUNCE_RATE, EVENT_CAP_EARLY]
    night = by_event[EVENT_NIGHT_BACKLOG]
    assert night["resource"]["prefect.resource.id"] == "leadgen.night.2026-12-07"
    assert night["payload"]["operations_overdue"] == 1
    assert night["payload"]["summary"].startswith("night of 2026-12-07: 0 queries and 1 operations")
    bounce = by_event[EVENT_BOUNCE_RATE]
    assert bounce["resource"]["prefect.resource.id"] == "leadgen.bounce-rate.2026-12-07"
    assert (bounce["payload"]["sent"], bounce["payload"]["bounced"], bounce["payload"]["rate"]) == (
        3,
        1,
        0.3333,
    )
    cap = by_event[EVENT_CAP_EARLY]
    assert cap["resource"]["prefect.resource.id"] == "leadgen.daily-cap.2026-12-07"
    assert (cap["payload"]["used"], cap["payload"]["cap"]) == (3, 3)
    assert "at 10:30" in cap["payload"]["summary"]
