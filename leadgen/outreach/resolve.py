"""`resolve`: settle by hand an `unknown` outbox row (sent or not), recording who, when and the evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, or_, select, update
from sqlalchemy.orm import Session

from leadgen.db import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import OutreachError

OM = OutreachMessage


@dataclass(frozen=True, slots=True)
class Resolution:
    """What `resolve_unknown` did to one row."""

    id: int
    message_id: str | None
    to_email: str | None
    status: str


def find_message(session: Session, ref: str, /) -> OutreachMessage | None:
    """The row whose Message-ID is `ref` (with or without angle brackets), or whose id is `ref`."""
    text = ref.strip()
    bare = text.removeprefix("<").removesuffix(">").strip()
    if not bare:
        return None
    conditions: list[ColumnElement[bool]] = [OM.message_id.in_({f"<{bare}>", bare})]
    if bare.isdigit():
        conditions.append(OM.id == int(bare))
    return session.scalars(select(OM).where(or_(*conditions)).order_by(OM.id).limit(1)).first()


def resolve_unknown(
    engine: Engine, ref: str, /, *, sent: bool, now: datetime, by: str, note: str | None = None
) -> Resolution:
    """Settle an `unknown` row as `sent` (sent_at = when it was sent) or `failed`; meta["resolution"] keeps
    who, when and the evidence ("manual"). Raises OutreachError for an unknown id or a row not `unknown`."""
    with write_scope(engine) as session:
        row = find_message(session, ref)
        if row is None:
            raise OutreachError(f"no outreach message with Message-ID or id {ref.strip()!r}")
        if row.status != MessageStatus.UNKNOWN:
            raise OutreachError(
                f"message {row.id} ({row.message_id or 'no Message-ID'}) is {row.status.value}, not unknown: "
                "only unknown rows are resolved by hand"
            )
        outcome = MessageStatus.SENT if sent else MessageStatus.FAILED
        resolution = {
            "outcome": outcome.value,
            "by": by,
            "at": now.isoformat(),
            "evidence": "manual",
            **({"note": note} if note else {}),
        }
        values: dict[str, object] = {
            "status": outcome,
            "meta": {**(row.meta or {}), "resolution": resolution},
            "updated_at": now,
            "next_attempt_at": None,
        }
        if sent:
            values |= {"sent_at": row.sending_started_at or now, "last_error": None}
        else:
            values["last_error"] = f"not sent (resolved by hand by {by})"
        changed = session.execute(
            update(OM)
            .where(OM.id == row.id, OM.status == MessageStatus.UNKNOWN)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:  # pragma: no cover - the write lock / row lock makes this a race we only guard
            raise OutreachError(f"message {row.id} changed while it was being resolved; try again")
        return Resolution(row.id, row.message_id, row.to_email, outcome.value)
