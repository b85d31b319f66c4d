"""What the outreach loop does with one classified inbound message, in the caller's transaction, exactly once.

    hard_bounce  -> the message `bounced`; each failed address suppressed (opt-out, source `bounce`, status code)
    soft_bounce  -> the message `bounced`; counted per address, suppressed at OUTREACH_SOFT_BOUNCE_LIMIT
    reply        -> the message `replied`; the company gets no further mail (companies.replied_at, pending rows
                    of the company skipped with "company replied")
    unsubscribe  -> the sender (and the address we wrote to) opted out (source `reply`), pending rows skipped
    auto_reply, other -> recorded only

The inbound row is inserted first (`ON CONFLICT DO NOTHING`); when it already existed nothing else happens, so
a re-read message is never applied twice. An `unknown` row (a send whose outcome was lost) that a bounce or an
answer points at is evidence that it went out: it is settled, the evidence noted in its metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.db.models import (
    AddressBounce,
    Company,
    Contact,
    ContactKind,
    InboundMessage,
    MessageStatus,
    OptOutKind,
    OutreachMessage,
)
from leadgen.mailbox.kinds import BOUNCES, Classification, MailKind
from leadgen.outreach.optout import add_opt_out, normalise_email
from leadgen.outreach.outbox import COMPANY_REPLIED
from leadgen.settings import Settings

OM = OutreachMessage
WENT_OUT = (MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.BOUNCED, MessageStatus.REPLIED)
"""Statuses of a row that (may have) left: the only ones a bounce or an answer can be about."""
PENDING = (MessageStatus.DRAFTED, MessageStatus.QUEUED)
"""Statuses of a row that has not been claimed for sending yet: the ones the loop can still stop."""
EXCERPT_MAX = 2000
SEEN_BEFORE = "seen before"
"""How `Outcome.effect` starts for a message this mailbox recorded before under another UID (see `_earlier`)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What `apply_classification` did; `recorded` is False when the message had been applied before."""

    recorded: bool
    kind: MailKind
    inbound_id: int | None = None
    outreach_message_id: int | None = None
    company_id: int | None = None
    effect: str = ""
    suppressed: tuple[str, ...] = ()  # addresses added to the opt-out registry now
    stopped: int = 0  # drafted/queued rows skipped now


def apply_classification(
    session: Session,
    c: Classification,
    *,
    mailbox: str,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    settings: Settings,
    now: datetime,
) -> Outcome:
    """Record one classified message of `mailbox`/`folder` and apply its effects (idempotent; no commit)."""
    row = match_message(session, c)
    company_id = row.company_id if row is not None else _company_of_sender(session, c)
    inbound_id = _insert_inbound(
        session, c, mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, uid=uid, now=now,
        outreach_message_id=row.id if row is not None else None, company_id=company_id,
    )  # fmt: skip
    if inbound_id is None:
        return Outcome(recorded=False, kind=c.kind, effect="already recorded")
    evidence = {"kind": str(c.kind), "inbound_id": inbound_id, "at": now.isoformat()}
    earlier = _earlier(session, c, mailbox=mailbox, inbound_id=inbound_id)
    counted = earlier is not None and earlier[1] == c.kind  # the same bounce read again: counted already
    outcome = _dispatch(
        session, c, row, company_id, settings=settings, evidence=evidence, now=now, count=not counted
    )
    if earlier is not None:
        outcome.text = f"{SEEN_BEFORE} as inbound {earlier[0]}; {outcome.text}"
    session.execute(update(InboundMessage).where(InboundMessage.id == inbound_id).values(effect=outcome.text))
    return Outcome(
        recorded=True,
        kind=c.kind,
        inbound_id=inbound_id,
        outreach_message_id=row.id if row is not None else None,
        company_id=company_id,
        effect=outcome.text,
        suppressed=tuple(outcome.suppressed),
        stopped=outcome.stopped,
    )


def _dispatch(
    session: Session,
    c: Classification,
    row: OutreachMessage | None,
    company_id: int | None,
    *,
    settings: Settings,
    evidence: dict[str, Any],
    now: datetime,
    count: bool,
) -> _Effect:
    """The effect of one newly recorded message, by kind (`count`: add bounces to the per-address counters)."""
    if c.kind in BOUNCES:
        return _on_bounce(session, c, row, settings=settings, evidence=evidence, now=now, count=count)
    if c.kind == MailKind.REPLY:
        return _on_reply(session, c, row, company_id, evidence=evidence, now=now)
    if c.kind == MailKind.UNSUBSCRIBE:
        return _on_unsubscribe(session, c, row, evidence=evidence, now=now)
    if c.kind == MailKind.AUTO_REPLY and row is not None:
        return _Effect(_settle(row, None, evidence, now) or "recorded")
    return _Effect("recorded")


@dataclass(slots=True)
class _Effect:
    text: str
    suppressed: list[str] = field(default_factory=list)
    stopped: int = 0


# --- matching ---------------------------------------------------------------------------------------------


def match_message(session: Session, c: Classification) -> OutreachMessage | None:
    """Our outreach row the message is about: by Message-ID (original, then References), else by address."""
    ids = list(dict.fromkeys(i.strip() for i in (c.message_id, *c.references) if i and i.strip()))
    if ids:
        rows = {r.message_id: r for r in session.scalars(select(OM).where(OM.message_id.in_(ids)))}
        for message_id in ids:
            if message_id in rows:
                return rows[message_id]
    if c.kind == MailKind.OTHER:
        return None
    addresses = c.recipients if c.kind in BOUNCES else ((c.sender,) if c.sender else ())
    return _by_recipient(session, addresses)


def _by_recipient(session: Session, addresses: Iterable[str]) -> OutreachMessage | None:
    """The most recent row that went out to one of `addresses` (first address with a row wins)."""
    for address in addresses:
        row = session.scalars(
            select(OM)
            .where(func.lower(OM.to_email) == normalise_email(address), OM.status.in_(WENT_OUT))
            .order_by(OM.sent_at.desc().nulls_last(), OM.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            return row
    return None


def _company_of_sender(session: Session, c: Classification) -> int | None:
    """The company whose contact wrote (a reply from an address we found but did not mail)."""
    if not c.sender or c.kind in BOUNCES or c.kind == MailKind.OTHER:
        return None
    return session.scalar(
        select(Contact.company_id)
        .where(Contact.kind == ContactKind.EMAIL, func.lower(Contact.value) == normalise_email(c.sender))
        .order_by(Contact.id)
        .limit(1)
    )


# --- recording --------------------------------------------------------------------------------------------


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _insert_inbound(
    session: Session,
    c: Classification,
    *,
    mailbox: str,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    now: datetime,
    outreach_message_id: int | None,
    company_id: int | None,
) -> int | None:
    """Insert the inbound row; its id, or None when this message was recorded before."""
    values = {
        "mailbox": mailbox,
        "folder": folder,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "inbound_message_id": _clip(c.inbound_message_id, 500),
        "kind": c.kind,
        "reason": _clip(c.reason, 255),
        "status_code": _clip(c.status, 16),
        "recipients": [normalise_email(r) for r in c.recipients],
        "sender": _clip(normalise_email(c.sender), 320) if c.sender else None,
        "subject": c.subject,
        "received_at": _aware(c.date),
        "excerpt": _clip(c.excerpt, EXCERPT_MAX),
        "outreach_message_id": outreach_message_id,
        "company_id": company_id,
        "meta": {"extra": c.extra, "message_id": c.message_id, "references": list(c.references)},
        "created_at": now,
        "updated_at": now,
    }
    stmt = _insert(session)(InboundMessage).values(**values).on_conflict_do_nothing()
    inserted: int | None = session.scalar(stmt.returning(InboundMessage.id))
    return inserted


def _earlier(session: Session, c: Classification, *, mailbox: str, inbound_id: int) -> tuple[int, str] | None:
    """(id, kind) of an earlier row of this mailbox with the same Message-ID: the message read again after a
    UIDVALIDITY change or a move to another folder. Its idempotent effects are simply applied again; a bounce of
    the same kind is not counted again."""
    if not c.inbound_message_id:
        return None
    hit = session.execute(
        select(InboundMessage.id, InboundMessage.kind)
        .where(
            InboundMessage.mailbox == mailbox,
            InboundMessage.inbound_message_id == _clip(c.inbound_message_id, 500),
            InboundMessage.id != inbound_id,
        )
        .order_by(InboundMessage.id)
        .limit(1)
    ).first()
    return (hit[0], str(hit[1])) if hit is not None else None


def _settle(
    row: OutreachMessage, status: MessageStatus | None, evidence: dict[str, Any], now: datetime
) -> str:
    """Move a row that went out to `status`; an `unknown` row is settled as sent first. Returns what changed."""
    changed = ""
    if row.status == MessageStatus.UNKNOWN:
        row.sent_at = row.sent_at or now
        row.meta = {**(row.meta or {}), "settled_by": evidence}
        row.status = MessageStatus.SENT
        changed = f"unknown message {row.id} settled as sent"
    if status is not None and row.status in WENT_OUT and row.status != status:
        if not (status is MessageStatus.BOUNCED and row.status == MessageStatus.REPLIED):
            row.status = status
            changed = f"message {row.id} {status}"
    if changed:
        row.updated_at = now
    return changed


# --- effects ----------------------------------------------------------------------------------------------


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p) or "recorded"


def _on_bounce(
    session: Session,
    c: Classification,
    row: OutreachMessage | None,
    *,
    settings: Settings,
    evidence: dict[str, Any],
    now: datetime,
    count: bool = True,
) -> _Effect:
    """Count the bounce per failed address (unless counted before), suppress hard bounces and soft ones at the
    limit, mark the row."""
    hard = c.kind == MailKind.HARD_BOUNCE
    addresses = _addresses(c.recipients or ((row.to_email,) if row is not None and row.to_email else ()))
    suppressed: list[str] = []
    notes: list[str] = [] if count else ["bounce counted before, not again"]
    for address in addresses:
        if count:
            soft_count = _count_bounce(session, address, hard=hard, status=c.status, now=now)
        else:
            soft_count = _soft_count(session, address)
        if hard:
            reason = f"hard bounce {c.status or '5.0.0'}" + (f" ({c.reason})" if c.reason else "")
        elif soft_count >= settings.outreach_soft_bounce_limit:
            reason = f"{soft_count} soft bounces, last {c.status or '4.0.0'}"
        else:
            notes.append(f"{address}: soft bounce {soft_count} of {settings.outreach_soft_bounce_limit}")
            continue
        if add_opt_out(session, address, kind=OptOutKind.EMAIL, reason=reason, source="bounce"):
            suppressed.append(address)
    if suppressed:
        notes.append("suppressed " + ", ".join(suppressed))
    if row is not None:
        if _settle(row, MessageStatus.BOUNCED, evidence, now) and row.status == MessageStatus.BOUNCED:
            row.last_error = f"{c.kind} {c.status or ''}".strip()
        notes.insert(0, f"message {row.id} {row.status}")
    return _Effect(_join(*notes), suppressed)


def _addresses(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(normalise_email(v) for v in values if v and "@" in v))


def _soft_count(session: Session, address: str) -> int:
    stmt = select(AddressBounce.soft_count).where(func.lower(AddressBounce.address) == address)
    return int(session.scalar(stmt) or 0)


def _count_bounce(session: Session, address: str, *, hard: bool, status: str | None, now: datetime) -> int:
    """Add one bounce to the address's counters (upsert on LOWER(address)); returns its soft count."""
    soft, hard_n = (0, 1) if hard else (1, 0)
    values = {"address": address, "soft_count": soft, "hard_count": hard_n, "last_status": _clip(status, 16)}
    stmt = _insert(session)(AddressBounce).values(**values, last_at=now, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[func.lower(AddressBounce.address)],
        set_={
            "soft_count": AddressBounce.soft_count + soft,
            "hard_count": AddressBounce.hard_count + hard_n,
            "last_status": func.coalesce(stmt.excluded.last_status, AddressBounce.last_status),
            "last_at": now,
            "updated_at": now,
        },
    )
    return int(session.scalar(stmt.returning(AddressBounce.soft_count)) or 0)


def _on_reply(
    session: Session,
    c: Classification,
    row: OutreachMessage | None,
    company_id: int | None,
    *,
    evidence: dict[str, Any],
    now: datetime,
) -> _Effect:
    """Mark the row replied and stop the company: replied_at set, its drafted/queued rows skipped."""
    notes = [_settle(row, MessageStatus.REPLIED, evidence, now)] if row is not None else []
    stopped = 0
    if company_id is not None:
        session.execute(
            update(Company)
            .where(Company.id == company_id, Company.replied_at.is_(None))
            .values(replied_at=_aware(c.date) or now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        stopped = _skip_pending(session, OM.company_id == company_id, reason=COMPANY_REPLIED, now=now)
        notes.append(f"company {company_id} gets no further mail ({stopped} pending skipped)")
    else:
        notes.append("no company matched")
    return _Effect(_join(*notes), stopped=stopped)


def _on_unsubscribe(
    session: Session,
    c: Classification,
    row: OutreachMessage | None,
    *,
    evidence: dict[str, Any],
    now: datetime,
) -> _Effect:
    """Opt out the sender and the address we wrote to (source `reply`) and skip their pending rows."""
    addresses = _addresses((c.sender, row.to_email if row is not None else None))
    reason = "unsubscribe reply" + (f": {c.excerpt.splitlines()[0][:200]}" if c.excerpt else "")
    suppressed = [
        a for a in addresses if add_opt_out(session, a, kind=OptOutKind.EMAIL, reason=reason, source="reply")
    ]
    stopped = 0
    if addresses:
        stopped = _skip_pending(
            session, func.lower(OM.to_email).in_(addresses), reason="opted out: email", now=now
        )
    notes = [_settle(row, None, evidence, now) if row is not None else ""]
    notes.append(f"opted out {', '.join(addresses) or 'nobody (no sender)'} ({stopped} pending skipped)")
    return _Effect(_join(*notes), suppressed, stopped)


def _skip_pending(session: Session, condition: Any, *, reason: str, now: datetime) -> int:
    """Skip every drafted/queued row matching `condition` with `reason`; how many."""
    result = session.execute(
        update(OM)
        .where(condition, OM.status.in_(PENDING))
        .values(status=MessageStatus.SKIPPED, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
