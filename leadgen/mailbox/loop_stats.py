"""The outreach loop in figures: bounces, replies, unsubscribes and auto-replies recorded, and the latest replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.batches import company_in_batch
from leadgen.db.models import AddressBounce, Company, InboundMessage, OptOut
from leadgen.mailbox.kinds import MailKind

REPLIES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ReplyLine:
    """One recorded reply: who wrote, when (its Date, else when it was read), about which company, its first lines
    (on one line, clipped)."""

    sender: str | None
    date: str | None
    domain: str | None
    subject: str | None
    first_lines: str | None


@dataclass(frozen=True, slots=True)
class LoopStats:
    """Inbound messages per kind (of one batch's companies, or all), suppressions and the latest replies.

    `suppressed_by_bounce` counts opt-outs whose source is `bounce` (DSNs and synchronous "user unknown"
    rejections) and `addresses_soft_bouncing` addresses with soft bounces not yet suppressed; both ignore the
    batch (an address is not tied to one).
    """

    hard_bounces: int = 0
    soft_bounces: int = 0
    replies: int = 0
    unsubscribes: int = 0
    auto_replies: int = 0
    other: int = 0
    companies_replied: int = 0
    suppressed_by_bounce: int = 0
    suppressed_by_reply: int = 0
    addresses_soft_bouncing: int = 0
    latest_replies: list[ReplyLine] = field(default_factory=list)


FIRST_LINES_MAX = 160


def _first_lines(text: str | None, limit: int = FIRST_LINES_MAX) -> str | None:
    joined = " ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return (joined[: limit - 1] + "…" if len(joined) > limit else joined) or None


def _in_batch(batch_tag: str | None) -> Any:
    return company_in_batch(batch_tag)  # a company found by two batches is in both (leadgen.db.batches)


def loop_stats(session: Session, *, batch_tag: str | None = None, limit: int = REPLIES_SHOWN) -> LoopStats:
    """Figures of the outreach loop; with `batch_tag`, only inbound messages matched to that batch's companies."""
    inbound = select(InboundMessage.kind, func.count()).group_by(InboundMessage.kind)
    if batch_tag is not None:
        inbound = inbound.join(Company, Company.id == InboundMessage.company_id).where(_in_batch(batch_tag))
    kinds = {MailKind(k): int(n) for k, n in session.execute(inbound).all()}
    sources: dict[str | None, int] = {
        source: int(n)
        for source, n in session.execute(
            select(OptOut.source, func.count())
            .where(OptOut.source.in_(("bounce", "reply")))
            .group_by(OptOut.source)
        ).all()
    }
    suppressed = (
        select(OptOut.id).where(func.lower(OptOut.value) == func.lower(AddressBounce.address)).exists()
    )
    return LoopStats(
        hard_bounces=kinds.get(MailKind.HARD_BOUNCE, 0),
        soft_bounces=kinds.get(MailKind.SOFT_BOUNCE, 0),
        replies=kinds.get(MailKind.REPLY, 0),
        unsubscribes=kinds.get(MailKind.UNSUBSCRIBE, 0),
        auto_replies=kinds.get(MailKind.AUTO_REPLY, 0),
        other=kinds.get(MailKind.OTHER, 0),
        companies_replied=int(
            session.scalar(select(func.count()).where(Company.replied_at.is_not(None), _in_batch(batch_tag)))
            or 0
        ),
        suppressed_by_bounce=int(sources.get("bounce", 0)),
        suppressed_by_reply=int(sources.get("reply", 0)),
        addresses_soft_bouncing=int(
            session.scalar(select(func.count()).where(AddressBounce.soft_count > 0, ~suppressed)) or 0
        ),
        latest_replies=latest_replies(session, batch_tag=batch_tag, limit=limit),
    )


def latest_replies(
    session: Session, *, batch_tag: str | None = None, limit: int = REPLIES_SHOWN
) -> list[ReplyLine]:
    """The newest recorded replies, newest first."""
    stmt = (
        select(
            InboundMessage.sender,
            func.coalesce(InboundMessage.received_at, InboundMessage.created_at),
            Company.canonical_domain,
            InboundMessage.subject,
            InboundMessage.excerpt,
        )
        .outerjoin(Company, Company.id == InboundMessage.company_id)
        .where(InboundMessage.kind == MailKind.REPLY)
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    if batch_tag is not None:
        stmt = stmt.where(_in_batch(batch_tag))
    return [
        ReplyLine(sender, _iso(date), domain, subject, _first_lines(excerpt))
        for sender, date, domain, subject, excerpt in session.execute(stmt)
    ]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
