"""The outbox state machine: queue drafts, claim one row under the daily cap, record outcomes, recover crashes.

drafted ──queue──▶ queued ──claim──▶ sending ──▶ sent | failed | queued (retry, next_attempt_at)
   └──▶ skipped       └──▶ skipped (opt-out at send time)     └──▶ unknown (found after a crash)
sending ──▶ queued, attempts given back: route down before any transmission, or found after a crash that came
            before the checkpoint (data_started_at, committed just before the SMTP DATA command)
sent | unknown ──▶ bounced | replied (a DSN or an answer read from the mailbox: leadgen.mailbox.effects)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadgen.contacts.thirdparty import third_party_reason
from leadgen.db import read_scope, write_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import Company, Contact, MessageStatus, OptOutKind, OutreachMessage
from leadgen.errors import ClaimLost
from leadgen.outreach.composer import DraftPolicy
from leadgen.outreach.guardrails import check_draft
from leadgen.outreach.message import new_message_id
from leadgen.outreach.offer import OfferBrief, load_offer
from leadgen.outreach.optout import add_opt_out, opt_out_reason
from leadgen.outreach.outcomes import QueueReport
from leadgen.outreach.recipients import ADDRESS_TAKEN, check_recipient
from leadgen.outreach.router import MxResolver, Router
from leadgen.outreach.template import EmailTemplate
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

OM = OutreachMessage
CAP_LOCK_KEY = 7_300_001
"""Postgres advisory lock taken by every claim transaction, so the daily-cap count is exact across senders."""
DEFAULT_STALE_SENDING = timedelta(minutes=15)
IN_FLIGHT = (MessageStatus.SENDING, MessageStatus.UNKNOWN)
WENT_OUT = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.REPLIED)
"""Delivered rows: a later bounce or reply changes the status, not the fact that the message used a slot."""
COMPANY_REPLIED = "company replied"
"""Skip reason of a row whose company answered (leadgen.mailbox.effects): it gets no further mail."""


# --- queueing ---------------------------------------------------------------------------------------------


def queue_messages(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    now: datetime,
    resolver: MxResolver | None = None,
    offer: OfferBrief | None = None,
    batch_tag: str | None = None,
) -> QueueReport:
    """Verify the recipients of up to `limit` drafts (syntax, disposable domain, opt-out of the address, its
    domain or the company's domain, third-party address, MX, guardrails) and queue or skip them. With
    `batch_tag`, only drafts for that batch's companies."""
    offer = offer or load_offer(settings.outreach_offer_file)
    policy = DraftPolicy.from_settings(settings)
    router = Router.from_settings(settings, resolver=resolver)
    rows = _drafts(engine, settings, limit=limit, batch_tag=batch_tag)
    queued = skipped = roles = 0
    errors: list[ItemError] = []
    for row_id, to_email, subject, body, domain, company_opt_out, replied_at, contact_meta in rows:
        with read_scope(engine) as session:
            check = check_recipient(
                to_email or "",
                mx_lookup=router.lookup if router.cache is not None else None,
                opted_out=lambda e, s=session, d=domain: opt_out_reason(s, e, company_domain=d),  # type: ignore[misc]
            )
        reason = check.reason
        if check.ok:
            reason = _refusal(check.email, reason, company_opt_out, replied_at, domain, contact_meta)
        if check.ok and reason is None:
            reason = _guardrail_reason(subject, body, offer, policy, domain)
        meta_patch = {"role_address": check.is_role, "mx": list(check.mx_hosts)}
        if reason is None:
            try:
                with write_scope(engine) as session:
                    changed = _transition(
                        session,
                        row_id,
                        MessageStatus.DRAFTED,
                        status=MessageStatus.QUEUED,
                        queued_at=now,
                        to_email=check.email,
                        meta_patch=meta_patch,
                        now=now,
                    )
                queued += changed
                roles += changed and check.is_role
                continue
            except IntegrityError:  # the normalised address is another row's (a draft of an older version)
                reason = ADDRESS_TAKEN
        skipped += _skip_draft(engine, row_id, reason, meta_patch, now)
        errors.append(ItemError("message", reason, id=row_id, key=to_email or None, outcome="skipped"))
    return QueueReport(len(rows), queued, skipped, roles, tuple(errors))


def _drafts(engine: Engine, settings: Settings, *, limit: int, batch_tag: str | None) -> Sequence[Row[Any]]:
    """The drafts of this campaign to check, oldest first, with their company's and contact's facts."""
    with read_scope(engine) as session:
        return session.execute(
            select(
                OM.id,
                OM.to_email,
                OM.subject,
                OM.body,
                Company.canonical_domain,
                Company.opt_out,
                Company.replied_at,
                Contact.meta,
            )
            .outerjoin(Company, Company.id == OM.company_id)
            .outerjoin(Contact, Contact.id == OM.contact_id)
            .where(
                OM.status == MessageStatus.DRAFTED,
                OM.campaign == settings.outreach_campaign,
                message_in_batch(batch_tag),
            )
            .order_by(OM.id)
            .limit(limit)
        ).all()


def _skip_draft(engine: Engine, row_id: int, reason: str, meta_patch: dict[str, Any], now: datetime) -> int:
    """drafted → skipped with the reason; 1 when this run moved the row."""
    with write_scope(engine) as session:
        return _transition(
            session,
            row_id,
            MessageStatus.DRAFTED,
            status=MessageStatus.SKIPPED,
            last_error=reason,
            meta_patch=meta_patch,
            now=now,
        )


def _refusal(
    email: str,
    reason: str | None,
    company_opt_out: bool | None,
    replied_at: datetime | None,
    domain: str | None,
    contact_meta: dict[str, Any] | None,
) -> str | None:
    """Why an address that passed its checks is still not written to: the company opted out or replied,
    or the address is a third party's."""
    if company_opt_out:
        return "opted out: company"
    if reason is None and replied_at is not None:
        return COMPANY_REPLIED
    if reason is not None:
        return reason
    return third_party_reason(email, company_domain=domain, contact_meta=contact_meta)


def _guardrail_reason(
    subject: str | None, body: str | None, offer: OfferBrief, policy: DraftPolicy, domain: str | None
) -> str | None:
    """Why the draft may not be queued as it stands (leadgen.outreach.guardrails), or None."""
    verdict = check_draft(
        _template(subject, body),
        offer,
        language=policy.language,
        subject_max=policy.subject_max,
        body_min=policy.body_min,
        body_max=policy.body_max,
        allowed_domains=frozenset({domain}) if domain else frozenset(),
    )
    return None if verdict.ok else "draft fails guardrails: " + "; ".join(verdict.problems)


def _template(subject: str | None, body: str | None) -> EmailTemplate:
    return EmailTemplate(subject or "", body or "")


def _transition(
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


# --- claiming ---------------------------------------------------------------------------------------------


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


def day_bounds(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """Start and end (aware) of the APP_TIMEZONE day containing `now`."""
    local = now.astimezone(settings.tz)
    start = datetime.combine(local.date(), time(0), tzinfo=settings.tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=settings.tz)
    return start, end


def used_today(session: Session, start: datetime, end: datetime, *, exclude: int | None = None) -> int:
    """Rows that count against today's cap: sent today (also those since bounced or replied to), plus
    in-flight/unknown rows claimed today."""
    stmt = select(func.count()).where(
        or_(
            and_(OM.status.in_(WENT_OUT), OM.sent_at >= start, OM.sent_at < end),
            and_(OM.status.in_(IN_FLIGHT), OM.sending_started_at >= start, OM.sending_started_at < end),
        )
    )
    if exclude is not None:
        stmt = stmt.where(OM.id != exclude)
    return int(session.scalar(stmt) or 0)


def route_cap(settings: Settings, route: str) -> int:
    """OUTREACH_DAILY_CAP_<ROUTE>, or the global OUTREACH_DAILY_CAP when unset (never above the global cap)."""
    own = getattr(settings, f"outreach_daily_cap_{route}", None)
    return settings.outreach_daily_cap if own is None else min(own, settings.outreach_daily_cap)


def used_today_on_route(
    session: Session, route: str, start: datetime, end: datetime, *, exclude: int | None = None
) -> int:
    """Rows that count against a route's cap: sent today on it, plus in-flight/unknown rows reserved on it."""
    stmt = select(func.count()).where(
        OM.route == route,
        or_(
            and_(OM.status.in_(WENT_OUT), OM.sent_at >= start, OM.sent_at < end),
            and_(OM.status.in_(IN_FLIGHT), OM.sending_started_at >= start, OM.sending_started_at < end),
        ),
    )
    if exclude is not None:
        stmt = stmt.where(OM.id != exclude)
    return int(session.scalar(stmt) or 0)


def _cap_lock(session: Session) -> None:
    """Serialise cap counting across senders: the advisory lock on Postgres (write_scope locks SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CAP_LOCK_KEY)))


def reserve_route(engine: Engine, settings: Settings, item: OutboxItem, route: str, *, now: datetime) -> bool:
    """Record `route` on the claimed row if the route's own daily cap has room (counted under the cap lock,
    so concurrent senders never pass it); False when the route is full today."""
    start, end = day_bounds(now, settings)
    with write_scope(engine) as session:
        _cap_lock(session)
        if used_today_on_route(session, route, start, end, exclude=item.id) >= route_cap(settings, route):
            return False
        return bool(_transition(session, item.id, MessageStatus.SENDING, now=now, route=route))


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
            _transition(
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
        _transition(
            session,
            item.id,
            MessageStatus.SENDING,
            now=now,
            status=MessageStatus.QUEUED,
            attempts=max(item.attempts - 1, 0),
            sending_started_at=None,
            last_error=reason,
        )


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
) -> Claim:
    """Claim the next due queued row, check opt-out and the daily cap, all in ONE transaction.

    Postgres: an advisory transaction lock serialises claims (exact cap), the row is picked with
    `FOR UPDATE SKIP LOCKED`. SQLite: one conditional `UPDATE ... WHERE id = (SELECT ...) AND status =
    'queued' RETURNING id`, whose write lock serialises claims the same way. Over the cap the transaction
    rolls back and the row stays queued. `owner` (leadgen.owners) is recorded as `claimed_by`. With
    `batch_tag`, only rows of that batch's companies are claimed (the cap still counts every message sent today).
    """
    start, end = day_bounds(now, settings)
    due = and_(
        OM.status == MessageStatus.QUEUED,
        OM.campaign == settings.outreach_campaign,
        or_(OM.next_attempt_at.is_(None), OM.next_attempt_at <= now),
        message_in_batch(batch_tag),
    )
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
            return Claim(item=item, used_today=used)
    except _CapReached as exc:
        return Claim(cap_reached=True, used_today=exc.used)


def _claim_due_row(session: Session, due: ColumnElement[bool], claim_values: dict[str, Any]) -> int | None:
    """Move the first due row to `sending` and return its id (None when nothing is due).

    Postgres takes the cap's advisory lock and picks the row `FOR UPDATE SKIP LOCKED`; SQLite claims it with one
    conditional `UPDATE ... RETURNING`, whose write lock serialises claims the same way.
    """
    if session.get_bind().dialect.name == "postgresql":
        _cap_lock(session)
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


# --- outcomes ---------------------------------------------------------------------------------------------


def mark_sent(engine: Engine, item: OutboxItem, *, now: datetime, route: str, meta: dict[str, Any]) -> None:
    """sending (or unknown, if recovery ran meanwhile) -> sent."""
    with write_scope(engine) as session:
        _transition(
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
        _transition(
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
        _transition(
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
        _transition(
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
        _transition(
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


@dataclass(frozen=True, slots=True)
class Recovered:
    """What `recover_stale_sending` did: rows requeued (crashed before the checkpoint) and marked unknown."""

    requeued: int = 0
    unknown: int = 0


CRASHED_BEFORE_DATA = "requeued after a crash before the DATA command (the server cannot have it)"
CRASHED_AFTER_DATA = (
    "found in sending after a crash past the DATA command; the server may have it, not resent"
)


def recover_rows(
    engine: Engine,
    *,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_SENDING,
    batch_tag: str | None = None,
) -> Recovered:
    """Rows left in `sending` longer than `stale_after`: without the checkpoint (data_started_at) they go back
    to `queued` with their attempt given back; with it they become `unknown` (never resent automatically).
    With `batch_tag`, only rows of that batch's companies."""
    stale = and_(
        OM.status == MessageStatus.SENDING,
        OM.sending_started_at < now - stale_after,
        message_in_batch(batch_tag),
    )
    with write_scope(engine) as session:
        requeued = session.execute(
            update(OM)
            .where(stale, OM.data_started_at.is_(None))
            .values(
                status=MessageStatus.QUEUED,
                attempts=case((OM.attempts > 0, OM.attempts - 1), else_=0),
                sending_started_at=None,
                last_error=CRASHED_BEFORE_DATA,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        unknown = session.execute(
            update(OM)
            .where(stale, OM.data_started_at.is_not(None))
            .values(status=MessageStatus.UNKNOWN, last_error=CRASHED_AFTER_DATA, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return Recovered(int(requeued.rowcount), int(unknown.rowcount))  # type: ignore[attr-defined]


def recover_stale_sending(
    engine: Engine, *, now: datetime, stale_after: timedelta = DEFAULT_STALE_SENDING
) -> int:
    """`recover_rows`, returning how many rows became `unknown` (the requeued ones go out again normally)."""
    return recover_rows(engine, now=now, stale_after=stale_after).unknown
