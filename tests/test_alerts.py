"""The figures behind the alerts (leadgen/alerts.py): night backlog past the SLA, a day's bounce rate, the cap
used up before noon; on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadgen.alerts import (
    EVENT_BOUNCE_RATE,
    EVENT_CAP_EARLY,
    EVENT_NIGHT_BACKLOG,
    bounce_day,
    cap_morning,
    night_backlog,
    recent_bounce_days,
    resource_id,
)
from leadgen.db.models import (
    MessageStatus,
    OperationStatus,
    OutreachMessage,
    QueryStatus,
    SerpOperation,
    SerpQuery,
)
from leadgen.settings import Settings

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 08:00 in Moscow: the night window has just closed


def make_settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


def test_resource_ids_are_per_alert_and_day() -> None:
    day = date(2026, 12, 7)
    assert resource_id(EVENT_NIGHT_BACKLOG, day) == "leadgen.night.2026-12-07"
    assert resource_id(EVENT_BOUNCE_RATE, day) == "leadgen.bounce-rate.2026-12-07"
    assert resource_id(EVENT_CAP_EARLY, day) == "leadgen.daily-cap.2026-12-07"


def _query(
    n: int, status: QueryStatus, scheduled: datetime | None, created: datetime | None = None
) -> SerpQuery:
    row = SerpQuery(query_text=f"q{n}", region_code="213", query_hash=f"{n:040d}", status=status)
    row.scheduled_for = scheduled
    if created is not None:
        row.created_at = created
    return row


def test_night_backlog_counts_only_work_older_than_the_sla(engine: Engine) -> None:
    hours = lambda h: NOW - timedelta(hours=h)  # noqa: E731
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                _query(1, QueryStatus.PENDING, hours(13)),  # overdue
                _query(2, QueryStatus.SUBMITTED, hours(30)),  # overdue
                _query(3, QueryStatus.PENDING, None, created=hours(20)),  # no slot: its age counts; overdue
                _query(4, QueryStatus.PENDING, hours(2)),  # within the SLA
                _query(5, QueryStatus.PENDING, NOW + timedelta(hours=20)),  # planned for the next night
                _query(6, QueryStatus.DONE, hours(40)),
                _query(7, QueryStatus.FAILED, hours(40)),
                SerpOperation(
                    operation_id="op-old", status=OperationStatus.PENDING, submitted_at=hours(12.5)
                ),
                SerpOperation(operation_id="op-new", status=OperationStatus.PENDING, submitted_at=hours(3)),
                SerpOperation(operation_id="op-done", status=OperationStatus.DONE, submitted_at=hours(40)),
                SerpOperation(operation_id="op-exp", status=OperationStatus.EXPIRED, submitted_at=hours(40)),
            ]
        )
    with Session(engine) as session:
        backlog = night_backlog(session, make_settings(yandex_operation_sla_hours=12), now=NOW)
    assert (backlog.queries_overdue, backlog.operations_overdue) == (3, 1)
    assert backlog.breached and backlog.night == date(2026, 12, 7)
    assert backlog.sentence() == (
        "night of 2026-12-07: 3 queries and 1 operations still pending more than 12 h after their slot "
        "(YANDEX_OPERATION_SLA_HOURS)"
    )
    with Session(engine) as session:
        relaxed = night_backlog(session, make_settings(yandex_operation_sla_hours=48), now=NOW)
    assert not relaxed.breached


def _sent(n: int, status: MessageStatus, at: datetime | None) -> OutreachMessage:
    return OutreachMessage(campaign="c", to_email=f"p{n}@example.com", status=status, sent_at=at)


def test_bounce_rate_of_a_local_day(engine: Engine) -> None:
    """Moscow days: 20:59 UTC is still the 6th there, 21:00 UTC already the 7th."""
    day7 = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    rows = [_sent(i, MessageStatus.SENT, day7 + timedelta(minutes=i)) for i in range(17)]
    rows += [_sent(100 + i, MessageStatus.BOUNCED, day7 + timedelta(hours=3, minutes=i)) for i in range(2)]
    rows += [_sent(200, MessageStatus.REPLIED, day7 + timedelta(hours=4))]
    rows += [
        _sent(300 + i, MessageStatus.BOUNCED, day7 - timedelta(minutes=1 + i)) for i in range(5)
    ]  # the 6th
    rows += [_sent(400, MessageStatus.FAILED, None), _sent(401, MessageStatus.QUEUED, None)]
    with Session(engine) as session, session.begin():
        session.add_all(rows)
    settings = make_settings(alert_bounce_rate_threshold=0.05, alert_bounce_min_sent=20)
    with Session(engine) as session:
        seventh = bounce_day(session, settings, date(2026, 12, 7))
        yesterday, today = recent_bounce_days(session, settings, now=NOW)
    assert (seventh.sent, seventh.bounced) == (20, 2)
    assert seventh.rate == pytest.approx(0.10) and seventh.exceeded
    assert seventh.sentence() == (
        "2026-12-07: 2 of 20 messages sent bounced (10.0%), above ALERT_BOUNCE_RATE_THRESHOLD 5.0%"
    )
    assert today == seventh
    assert (yesterday.day, yesterday.sent, yesterday.bounced) == (date(2026, 12, 6), 5, 5)
    assert not yesterday.exceeded  # 100 % of 5 messages: too few to judge (ALERT_BOUNCE_MIN_SENT)
    with Session(engine) as session:
        lenient = bounce_day(session, make_settings(alert_bounce_rate_threshold=0.10), date(2026, 12, 7))
    assert not lenient.exceeded  # 10 % is not above 10 %


@pytest.mark.parametrize(
    ("used", "cap", "utc_time", "early"),
    [
        (50, 50, "08:59", True),  # 11:59 in Moscow
        (50, 50, "09:00", False),  # noon
        (49, 50, "06:00", False),
        (60, 50, "06:00", True),
        (0, 0, "06:00", False),  # a zero cap sends nothing, it is not "reached"
    ],
)
def test_cap_reached_before_noon(used: int, cap: int, utc_time: str, early: bool) -> None:
    hour, minute = map(int, utc_time.split(":"))
    now = datetime(2026, 12, 7, hour, minute, tzinfo=UTC)
    check = cap_morning(used, make_settings(outreach_daily_cap=cap), now=now)
    assert check.reached_early is early
    assert check.day == date(2026, 12, 7)
