"""The daily caps: today's window, what counts against the global and per-route caps, the cap lock."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from leadgen.db.models import MessageStatus
from leadgen.outreach.outbox import OM
from leadgen.settings import Settings

CAP_LOCK_KEY = 7_300_001
"""Postgres advisory lock taken by every claim transaction, so the daily-cap count is exact across senders."""


IN_FLIGHT = (MessageStatus.SENDING, MessageStatus.UNKNOWN)


WENT_OUT = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.REPLIED)
"""Delivered rows: a later bounce or reply changes the status, not the fact that the message used a slot."""


def day_bounds(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """Start and end (aware) of the APP_TIMEZONE day containing `now`."""
    local = now.astimezone(settings.tz)
    start = datetime.combine(local.date(), time(0), tzinfo=settings.tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=settings.tz)
    return start, end


def used_today(
    session: Session, start: datetime, end: datetime, *, route: str | None = None, exclude: int | None = None
) -> int:
    """Rows that count against today's cap: sent today (also those since bounced or replied to), plus
    in-flight/unknown rows claimed today; with `route`, only those on that route (its own cap)."""
    stmt = select(func.count()).where(
        or_(
            and_(OM.status.in_(WENT_OUT), OM.sent_at >= start, OM.sent_at < end),
            and_(OM.status.in_(IN_FLIGHT), OM.sending_started_at >= start, OM.sending_started_at < end),
        )
    )
    if route is not None:
        stmt = stmt.where(OM.route == route)
    if exclude is not None:
        stmt = stmt.where(OM.id != exclude)
    return int(session.scalar(stmt) or 0)


def route_cap(settings: Settings, route: str) -> int:
    """OUTREACH_DAILY_CAP_<ROUTE>, or the global OUTREACH_DAILY_CAP when unset (never above the global cap)."""
    own = getattr(settings, f"outreach_daily_cap_{route}", None)
    return settings.outreach_daily_cap if own is None else min(own, settings.outreach_daily_cap)


def cap_lock(session: Session) -> None:
    """Serialise cap counting across senders: the advisory lock on Postgres (write_scope locks SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CAP_LOCK_KEY)))
