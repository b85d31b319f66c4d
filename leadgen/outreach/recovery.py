"""Crash recovery of the outbox: rows stuck in `sending` go back to `queued` (before DATA) or to `unknown`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, update
from sqlalchemy.orm import Session

from leadgen.db import write_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus
from leadgen.outreach.outbox import OM

DEFAULT_STALE_SENDING = timedelta(minutes=15)


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
        return settle_by_checkpoint(
            session, stale, now=now, before_data=CRASHED_BEFORE_DATA, after_data=CRASHED_AFTER_DATA
        )


def settle_by_checkpoint(
    session: Session,
    rows: ColumnElement[bool],
    *,
    now: datetime,
    before_data: str,
    after_data: str,
    **requeue_values: Any,
) -> Recovered:
    """The checkpoint rule on the `sending` rows `rows` selects, whose sender will not finish them: without the
    DATA checkpoint (`data_started_at`) the server cannot have the message, so the row goes back to `queued` with
    its attempt given back (`before_data` as its error, plus `requeue_values`); with it the server may have it, so
    the row becomes `unknown` (`after_data`), never resent automatically."""
    requeued = session.execute(
        update(OM)
        .where(rows, OM.data_started_at.is_(None))
        .values(
            status=MessageStatus.QUEUED,
            attempts=case((OM.attempts > 0, OM.attempts - 1), else_=0),
            sending_started_at=None,
            last_error=before_data,
            updated_at=now,
            **requeue_values,
        )
        .execution_options(synchronize_session=False)
    )
    unknown = session.execute(
        update(OM)
        .where(rows, OM.data_started_at.is_not(None))
        .values(status=MessageStatus.UNKNOWN, last_error=after_data, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return Recovered(int(requeued.rowcount), int(unknown.rowcount))  # type: ignore[attr-defined]


def recover_stale_sending(
    engine: Engine, *, now: datetime, stale_after: timedelta = DEFAULT_STALE_SENDING
) -> int:
    """`recover_rows`, returning how many rows became `unknown` (the requeued ones go out again normally)."""
    return recover_rows(engine, now=now, stale_after=stale_after).unknown
