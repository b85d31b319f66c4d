"""What a send could take now: queued rows due, and what is left of today's cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from leadgen.db import read_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach.daily_cap import day_bounds, used_today
from leadgen.settings import Settings


def due_now(settings: Settings, now: datetime, batch_tag: str | None = None) -> ColumnElement[bool]:
    """Queued rows of this campaign (and batch, if given) whose next attempt has come."""
    return and_(
        OutreachMessage.status == MessageStatus.QUEUED,
        OutreachMessage.campaign == settings.outreach_campaign,
        or_(OutreachMessage.next_attempt_at.is_(None), OutreachMessage.next_attempt_at <= now),
        message_in_batch(batch_tag),
    )


def has_due(engine: Engine, settings: Settings, now: datetime, batch_tag: str | None = None) -> bool:
    """Is any queued row due? (so the spacing pause is not taken before an empty claim)."""
    stmt = select(OutreachMessage.id).where(due_now(settings, now, batch_tag)).limit(1)
    with read_scope(engine) as session:
        return session.scalar(stmt) is not None


@dataclass(frozen=True, slots=True)
class Sendable:
    """Queued rows due now, and what is left of today's cap."""

    due: int
    cap_left: int
    used_today: int = 0

    @property
    def now(self) -> int:
        """How many messages a send could take now."""
        return max(0, min(self.due, self.cap_left))


def sendable_now(engine: Engine, settings: Settings, now: datetime, batch_tag: str | None = None) -> Sendable:
    """Due rows (of the batch, if given) and the cap left, for sizing a batch (of rate-limit slots) before
    sending; the claim still checks the cap itself."""
    start, end = day_bounds(now, settings)
    count_due = select(func.count()).select_from(OutreachMessage).where(due_now(settings, now, batch_tag))
    with read_scope(engine) as session:
        due = session.scalar(count_due)
        used = used_today(session, start, end)
    return Sendable(due=int(due or 0), cap_left=max(0, settings.outreach_daily_cap - used), used_today=used)
