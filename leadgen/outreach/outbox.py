"""The outbox state machine: the one conditional row transition and the outcomes a send records.

drafted ──queue──▶ queued ──claim──▶ sending ──▶ sent | failed | queued (retry, next_attempt_at)
   └──▶ skipped       └──▶ skipped (opt-out at send time)     └──▶ unknown (found after a crash)
sending ──▶ queued, attempts given back: route down before any transmission, or found after a crash that came
            before the checkpoint (data_started_at, committed just before the SMTP DATA command)
sent | unknown ──▶ bounced | replied (a DSN or an answer read from the mailbox: leadgen.mailbox.effects)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from leadgen.db import write_scope
from leadgen.db.models import MessageStatus, OptOutKind, OutreachMessage
from leadgen.outreach.optout import add_opt_out
from leadgen.settings import Settings

OM = OutreachMessage


COMPANY_REPLIED = "company replied"
"""Skip reason of a row whose company answered (leadgen.mailbox.effects): it gets no further mail."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed row, copied out of the session: everything the sender needs."""

    id: int
    campaign: str
    to_email: str
    subject: str
    body: str
    message_id: str
    attempts: int
    company_id: int | None
    meta: dict[str, Any]
    claimed_at: datetime | None = None  # sending_started_at set by this claim: the claim's token
    route_before: str | None = (
        None  # the row's route and last error before the claim (a release restores them)
    )
    error_before: str | None = None

    @classmethod
    def from_row(
        cls, row: OutreachMessage, *, message_id: str, claimed_at: datetime | None = None
    ) -> OutboxItem:
        """Copy what the sender needs out of an outbox row (missing texts become empty strings)."""
        return cls(
            claimed_at=claimed_at,
            route_before=row.route,
            error_before=row.last_error,
            id=row.id,
            campaign=row.campaign,
            to_email=row.to_email or "",
            subject=row.subject or "",
            body=row.body or "",
            message_id=message_id,
            attempts=row.attempts,
            company_id=row.company_id,
            meta=dict(row.meta or {}),
        )


def transition(
    session: Session,
    row_id: int,
    *from_status: MessageStatus,
    now: datetime,
    meta_patch: dict[str, Any] | None = None,
    **values: Any,
) -> int:
    """Conditional state change `WHERE id = ? AND status IN (from_status)`; returns 1 when it happened."""
    if meta_patch:
        meta = session.scalar(select(OM.meta).where(OM.id == row_id)) or {}
        values["meta"] = {**meta, **meta_patch}
    values["updated_at"] = now
    result = session.execute(
        update(OM)
        .where(OM.id == row_id, OM.status.in_(from_status))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(engine: Engine, item: OutboxItem, *, now: datetime, route: str, meta: dict[str, Any]) -> None:
    """sending (or unknown, if recovery ran meanwhile) -> sent."""
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            MessageStatus.UNKNOWN,
            now=now,
            meta_patch=meta,
            status=MessageStatus.SENT,
            sent_at=now,
            route=route,
            last_error=None,
            next_attempt_at=None,
        )


def mark_temporary(
    engine: Engine, item: OutboxItem, settings: Settings, *, now: datetime, error: str, meta: dict[str, Any]
) -> bool:
    """Re-queue with exponential backoff, or fail after OUTREACH_MAX_ATTEMPTS; True when re-queued."""
    retry = item.attempts < settings.outreach_max_attempts
    delay = settings.outreach_retry_backoff_seconds * (2 ** max(item.attempts - 1, 0))
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            MessageStatus.UNKNOWN,
            now=now,
            meta_patch=meta,
            status=MessageStatus.QUEUED if retry else MessageStatus.FAILED,
            last_error=error if retry else f"gave up after {item.attempts} attempts: {error}",
            next_attempt_at=now + timedelta(seconds=delay) if retry else None,
        )
    return retry


def mark_permanent(
    engine: Engine, item: OutboxItem, *, now: datetime, error: str, suppress: bool, meta: dict[str, Any]
) -> None:
    """Fail the row; on "user unknown" also add the address to the opt-out registry (same transaction)."""
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            MessageStatus.UNKNOWN,
            now=now,
            meta_patch=meta,
            status=MessageStatus.FAILED,
            last_error=error,
            next_attempt_at=None,
        )
        if suppress:
            add_opt_out(session, item.to_email.lower(), kind=OptOutKind.EMAIL, reason=error, source="bounce")


def mark_unknown(
    engine: Engine, item: OutboxItem, *, now: datetime, error: str, route: str, meta: dict[str, Any]
) -> None:
    """sending -> unknown: the content went out but the server's reply never came; never resent automatically."""
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            now=now,
            meta_patch=meta,
            status=MessageStatus.UNKNOWN,
            route=route,
            last_error=error,
            next_attempt_at=None,
        )


def mark_skipped(
    engine: Engine, item: OutboxItem, *, now: datetime, reason: str, meta: dict[str, Any]
) -> None:
    """sending -> skipped (not sent, not retried), e.g. no route can carry the address ("needs SMTPUTF8")."""
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            MessageStatus.UNKNOWN,
            now=now,
            meta_patch=meta,
            status=MessageStatus.SKIPPED,
            last_error=reason,
            next_attempt_at=None,
        )
