"""Claiming one outbox row (opt-out and daily cap checked in the claim transaction), its checkpoint, releases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, select, update
from sqlalchemy.orm import Session

from leadgen.contacts.thirdparty import third_party_reason
from leadgen.db import write_scope
from leadgen.db.models import Company, Contact, MessageStatus, OutreachMessage
from leadgen.errors import ClaimLost
from leadgen.outreach.daily_cap import cap_lock, day_bounds, route_cap, used_today
from leadgen.outreach.message import new_message_id
from leadgen.outreach.optout import opt_out_reason
from leadgen.outreach.outbox import COMPANY_REPLIED, OM, OutboxItem, transition
from leadgen.outreach.permit_pool import spend_permit
from leadgen.outreach.sendable import due_now
from leadgen.settings import Settings


def row_opt_out_reason(session: Session, row: OutreachMessage) -> str | None:
    """Why this row may not be sent: its address (or domain, or hash), its company's domain or its whole
    company opted out, or the company replied (it gets no further mail); else None."""
    company = (
        session.execute(
            select(Company.opt_out, Company.canonical_domain, Company.replied_at).where(
                Company.id == row.company_id
            )
        ).first()
        if row.company_id
        else None
    )
    company_opt_out, company_domain, replied_at = company if company is not None else (False, None, None)
    reason = opt_out_reason(session, row.to_email or "", company_domain=company_domain)
    if reason is None and company_opt_out:
        reason = "opted out: company"
    if reason is None and replied_at is not None:
        reason = COMPANY_REPLIED
    return reason


def row_third_party_reason(session: Session, row: OutreachMessage) -> str | None:
    """Why this row's address is not the company's own (web studio, site builder, host); else None."""
    contact_meta = (
        session.scalar(select(Contact.meta).where(Contact.id == row.contact_id)) if row.contact_id else None
    )
    company_domain = (
        session.scalar(select(Company.canonical_domain).where(Company.id == row.company_id))
        if row.company_id
        else None
    )
    return third_party_reason(row.to_email or "", company_domain=company_domain, contact_meta=contact_meta)


@dataclass(frozen=True, slots=True)
class Claim:
    """Result of one claim transaction: an item to send, a skipped row, or why nothing was claimed."""

    item: OutboxItem | None = None
    skipped_id: int | None = None
    skipped_reason: str | None = None
    cap_reached: bool = False
    used_today: int = 0


class _CapReached(Exception):
    def __init__(self, used: int) -> None:
        self.used = used


def claim_next(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    message_domain: str,
    owner: str | None = None,
    batch_tag: str | None = None,
    spend_permit_of: str | None = None,
) -> Claim:
    """Claim the next due queued row, check opt-out and the daily cap, all in ONE transaction.

    Postgres: an advisory transaction lock serialises claims (exact cap), the row is picked with
    `FOR UPDATE SKIP LOCKED`. SQLite: one conditional `UPDATE ... WHERE id = (SELECT ...) AND status =
    'queued' RETURNING id`, whose write lock serialises claims the same way. Over the cap the transaction
    rolls back and the row stays queued. `owner` (leadgen.owners) is recorded as `claimed_by`. With
    `batch_tag`, only rows of that batch's companies are claimed (the cap still counts every message sent today).
    With `spend_permit_of`, a claimed row takes one permit off that owner's `send_permits` row in the same
    transaction (leadgen.outreach.permit_pool).
    """
    start, end = day_bounds(now, settings)
    due = due_now(settings, now, batch_tag)
    claim_values = {
        "status": MessageStatus.SENDING,
        "sending_started_at": now,
        "data_started_at": None,
        "claimed_by": owner,
        "attempts": OM.attempts + 1,
        "updated_at": now,
    }
    try:
        with write_scope(engine) as session:
            row_id = _claim_due_row(session, due, claim_values)
            if row_id is None:
                return Claim(used_today=used_today(session, start, end))
            used = used_today(session, start, end, exclude=row_id)
            if used >= settings.outreach_daily_cap:
                raise _CapReached(used)
            row = session.execute(select(OM).where(OM.id == row_id)).scalar_one()
            reason = _skip_reason(session, row)
            if reason:
                row.status = MessageStatus.SKIPPED
                row.last_error = reason
                row.attempts = max(row.attempts - 1, 0)
                return Claim(skipped_id=row.id, skipped_reason=reason, used_today=used)
            if not row.message_id:
                row.message_id = new_message_id(message_domain)
            item = OutboxItem.from_row(row, message_id=row.message_id, claimed_at=now)
            if spend_permit_of is not None:
                session.execute(spend_permit(spend_permit_of))
            return Claim(item=item, used_today=used)
    except _CapReached as exc:
        return Claim(cap_reached=True, used_today=exc.used)


def _claim_due_row(session: Session, due: ColumnElement[bool], claim_values: dict[str, Any]) -> int | None:
    """Move the first due row to `sending` and return its id (None when nothing is due).

    Postgres takes the cap's advisory lock and picks the row `FOR UPDATE SKIP LOCKED`; SQLite claims it with one
    conditional `UPDATE ... RETURNING`, whose write lock serialises claims the same way.
    """
    if session.get_bind().dialect.name == "postgresql":
        cap_lock(session)
        row_id = session.scalar(
            select(OM.id).where(due).order_by(OM.id).limit(1).with_for_update(skip_locked=True)
        )
        if row_id is not None:
            session.execute(
                update(OM)
                .where(OM.id == row_id)
                .values(**claim_values)
                .execution_options(synchronize_session=False)
            )
        return row_id
    pick = select(OM.id).where(due).order_by(OM.id).limit(1).scalar_subquery()
    return session.scalar(
        update(OM)
        .where(OM.id == pick, OM.status == MessageStatus.QUEUED)
        .values(**claim_values)
        .returning(OM.id)
        .execution_options(synchronize_session=False)
    )


def _skip_reason(session: Session, row: OutreachMessage) -> str | None:
    """Why a claimed row must not be sent after all: forgotten address, opt-out or third-party address."""
    if not row.to_email:
        return "no recipient address (forgotten)"
    return row_opt_out_reason(session, row) or row_third_party_reason(session, row)


def reserve_route(engine: Engine, settings: Settings, item: OutboxItem, route: str, *, now: datetime) -> bool:
    """Record `route` on the claimed row if the route's own daily cap has room (counted under the cap lock,
    so concurrent senders never pass it); False when the route is full today."""
    start, end = day_bounds(now, settings)
    with write_scope(engine) as session:
        cap_lock(session)
        if used_today(session, start, end, route=route, exclude=item.id) >= route_cap(settings, route):
            return False
        return bool(transition(session, item.id, MessageStatus.SENDING, now=now, route=route))


def mark_data_started(engine: Engine, item: OutboxItem, *, now: datetime) -> None:
    """The send checkpoint, committed just before the SMTP DATA command: from here a crash leaves the row in
    doubt (`unknown`); before it, recovery requeues the row. Raises ClaimLost when the row is no longer this
    claim's (recovered or reclaimed meanwhile): the caller must not issue DATA."""
    with write_scope(engine) as session:
        result = session.execute(
            update(OM)
            .where(
                OM.id == item.id,
                OM.status == MessageStatus.SENDING,
                OM.sending_started_at == item.claimed_at,
                OM.data_started_at.is_(None),
            )
            .values(data_started_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ClaimLost(f"message {item.id} is no longer claimed by this run; not sent")


def release_unsent(engine: Engine, item: OutboxItem, *, now: datetime) -> bool:
    """sending -> queued exactly as before the claim (attempts, route and last error restored): nothing was
    transmitted (the route could not be used). True when the row was still this claim's."""
    with write_scope(engine) as session:
        return bool(
            transition(
                session,
                item.id,
                MessageStatus.SENDING,
                now=now,
                status=MessageStatus.QUEUED,
                attempts=item.attempts - 1 if item.attempts > 0 else 0,
                sending_started_at=None,
                data_started_at=None,
                route=item.route_before,
                last_error=item.error_before,
            )
        )


def release_claim(engine: Engine, item: OutboxItem, *, now: datetime, reason: str) -> None:
    """sending -> queued as if never claimed (attempt given back): nothing was transmitted."""
    with write_scope(engine) as session:
        transition(
            session,
            item.id,
            MessageStatus.SENDING,
            now=now,
            status=MessageStatus.QUEUED,
            attempts=max(item.attempts - 1, 0),
            sending_started_at=None,
            last_error=reason,
        )
