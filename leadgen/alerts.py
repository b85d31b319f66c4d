"""Figures behind the operational alerts: the night's SLA backlog, a day's bounce rate, the cap reached early.

The flows compute these after their work and emit one Prefect event per condition that holds (tasks/alerts.py);
the automations `leadgen infra bootstrap` creates (infra/automations.py) turn those events into notifications.
Event names and resource ids are defined here so that the emitting and the listening side cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.models import MessageStatus, OperationStatus, QueryStatus, SerpOperation, SerpQuery
from leadgen.db.models import OutreachMessage as OM
from leadgen.settings import Settings

EVENT_NIGHT_BACKLOG = "leadgen.night.sla-breached"
EVENT_BOUNCE_RATE = "leadgen.bounce-rate.exceeded"
EVENT_CAP_EARLY = "leadgen.daily-cap.reached-early"
ALERT_EVENTS = (EVENT_NIGHT_BACKLOG, EVENT_BOUNCE_RATE, EVENT_CAP_EARLY)

NOON = time(12, 0)
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.REPLIED)


def resource_id(event: str, day: date) -> str:
    """`leadgen.<subject>.<YYYY-MM-DD>`: one resource per alert and local day, so an automation notifies once
    per day however many runs see the condition (its trigger buckets by resource id)."""
    subject = event.split(".")[1]
    return f"leadgen.{subject}.{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class NightBacklog:
    """Work still pending when a night ends, older than YANDEX_OPERATION_SLA_HOURS."""

    night: date
    sla_hours: float
    queries_overdue: int  # pending or submitted queries whose slot is older than the SLA
    operations_overdue: int  # operations still pending, submitted longer ago than the SLA

    @property
    def breached(self) -> bool:
        return self.queries_overdue + self.operations_overdue > 0

    def sentence(self) -> str:
        return (
            f"night of {self.night}: {self.queries_overdue} queries and {self.operations_overdue} operations "
            f"still pending more than {self.sla_hours:g} h after their slot (YANDEX_OPERATION_SLA_HOURS)"
        )


@dataclass(frozen=True, slots=True)
class BounceDay:
    """One local day's messages sent and how many of them have bounced since."""

    day: date
    sent: int
    bounced: int
    threshold: float
    min_sent: int

    @property
    def rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def exceeded(self) -> bool:
        return self.sent >= self.min_sent and self.rate > self.threshold

    def sentence(self) -> str:
        return (
            f"{self.day}: {self.bounced} of {self.sent} messages sent bounced ({self.rate:.1%}), "
            f"above ALERT_BOUNCE_RATE_THRESHOLD {self.threshold:.1%}"
        )


@dataclass(frozen=True, slots=True)
class CapMorning:
    """How much of the daily cap is used, and whether it ran out before noon (local time)."""

    day: date
    used: int
    cap: int
    at: datetime  # local time of the check

    @property
    def reached_early(self) -> bool:
        return self.cap > 0 and self.used >= self.cap and self.at.time() < NOON

    def sentence(self) -> str:
        return (
            f"{self.day}: daily cap reached before noon ({self.used} of OUTREACH_DAILY_CAP {self.cap} used "
            f"at {self.at:%H:%M}); the rest of the send window sends nothing"
        )


def local_day_bounds(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """Start and end (aware) of `day` in APP_TIMEZONE."""
    start = datetime.combine(day, time(0), tzinfo=settings.tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=settings.tz)


def night_backlog(session: Session, settings: Settings, *, now: datetime) -> NightBacklog:
    """Queries and operations left pending past the SLA when the night run ends at `now`."""
    cutoff = now - timedelta(hours=settings.yandex_operation_sla_hours)
    queries = session.scalar(
        select(func.count()).where(
            SerpQuery.status.in_((QueryStatus.PENDING, QueryStatus.SUBMITTED)),
            func.coalesce(SerpQuery.scheduled_for, SerpQuery.created_at) <= cutoff,
        )
    )
    operations = session.scalar(
        select(func.count()).where(
            SerpOperation.status == OperationStatus.PENDING, SerpOperation.submitted_at <= cutoff
        )
    )
    return NightBacklog(
        night=now.astimezone(settings.tz).date(),
        sla_hours=settings.yandex_operation_sla_hours,
        queries_overdue=int(queries or 0),
        operations_overdue=int(operations or 0),
    )


def bounce_day(session: Session, settings: Settings, day: date) -> BounceDay:
    """Messages sent on local `day` (also those since bounced or replied to) and how many bounced."""
    start, end = local_day_bounds(day, settings)
    rows = session.execute(
        select(OM.status, func.count())
        .where(OM.status.in_(SENT_STATUSES), OM.sent_at >= start, OM.sent_at < end)
        .group_by(OM.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    return BounceDay(
        day=day,
        sent=sum(counts.values()),
        bounced=counts.get(MessageStatus.BOUNCED, 0),
        threshold=settings.alert_bounce_rate_threshold,
        min_sent=settings.alert_bounce_min_sent,
    )


def recent_bounce_days(session: Session, settings: Settings, *, now: datetime) -> list[BounceDay]:
    """Yesterday and today (local): bounces of a day's mail keep arriving during the next day."""
    today = now.astimezone(settings.tz).date()
    return [bounce_day(session, settings, today - timedelta(days=1)), bounce_day(session, settings, today)]


def cap_morning(used: int, settings: Settings, *, now: datetime) -> CapMorning:
    """The cap check for `used` messages counted against today's OUTREACH_DAILY_CAP at `now`."""
    local = now.astimezone(settings.tz)
    return CapMorning(day=local.date(), used=used, cap=settings.outreach_daily_cap, at=local)
