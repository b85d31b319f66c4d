"""Where the outbox stands: rows queued, in `sending`, in doubt (`unknown`) and settled from doubt by evidence.

`settled` counts rows whose meta holds a settlement record (SETTLED_KEYS): `settled_by` (a bounce, reply or
auto-reply quoting the Message-ID: leadgen.mailbox.effects), `settlements` (the route's sent folder:
leadgen.outreach.settle, written only when it settles a row), `resolution` (`leadgen outreach resolve`), or
`settled` (reserved for any other automatic settlement). Whatever status such a row has now (sent, bounced,
failed, queued again), it left `unknown` through evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session

from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus, OutreachMessage

OM = OutreachMessage
SETTLED_KEYS = ("settled_by", "settlements", "resolution", "settled")
"""Meta keys that record a settlement of an `unknown` row (automatic, by hand)."""


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Rows waiting (`queued`), claimed right now (`sending`), in doubt (`unknown`) and settled by evidence."""

    queued: int = 0
    sending: int = 0
    unknown: int = 0
    settled: int = 0


def _has_key(session: Session, key: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return OM.meta.op("?")(literal(key))  # jsonb key existence
    return func.json_type(OM.meta, f"$.{key}").is_not(None)  # SQLite: NULL only when the key is absent


def outbox_counts(
    session: Session, *, campaign: str | None = None, batch_tag: str | None = None
) -> OutboxCounts:
    """Counts over one campaign and/or the messages of one batch (leadgen.db.batches; all rows when None)."""
    settled = or_(*(_has_key(session, key) for key in SETTLED_KEYS))
    stmt = select(
        func.count().filter(OM.status == MessageStatus.QUEUED),
        func.count().filter(OM.status == MessageStatus.SENDING),
        func.count().filter(OM.status == MessageStatus.UNKNOWN),
        func.count().filter(settled),
    ).select_from(OM)
    if campaign is not None:
        stmt = stmt.where(OM.campaign == campaign)
    if batch_tag is not None:
        stmt = stmt.where(message_in_batch(batch_tag))
    queued, sending, unknown, done = session.execute(stmt).one()
    return OutboxCounts(int(queued or 0), int(sending or 0), int(unknown or 0), int(done or 0))
