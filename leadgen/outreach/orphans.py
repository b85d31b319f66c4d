"""Release at once the send claims of owners that are gone (leadgen.owners), by the checkpoint rule.

A row in `sending` whose `claimed_by` owner is finished, crashed or gone cannot be finished by it: without the
DATA checkpoint (`data_started_at`) the server cannot have the message, so the row goes back to `queued` with its
attempt given back; with it the server may have it, so the row becomes `unknown` (never resent automatically).
Owners that cannot be judged (None) are left to the stale timeout (`recover_rows`), which stays the last resort.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, distinct, select

from leadgen.db import read_scope, write_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach.recovery import Recovered, settle_by_checkpoint
from leadgen.owners import OwnerAlive, memoised

OM = OutreachMessage
GONE_BEFORE_DATA = "requeued: its sender ({owner}) is gone and had not reached the DATA command"
GONE_AFTER_DATA = "its sender ({owner}) is gone after the DATA command; the server may have it, not resent"


def sending_owners(engine: Engine, batch_tag: str | None = None) -> list[str]:
    """The distinct owners of rows in `sending` (of the batch's companies, with `batch_tag`)."""
    with read_scope(engine) as session:
        stmt = select(distinct(OM.claimed_by)).where(
            OM.status == MessageStatus.SENDING, OM.claimed_by.is_not(None), message_in_batch(batch_tag)
        )
        return sorted(o for o in session.scalars(stmt) if o)


def release_orphaned_messages(
    engine: Engine, *, owner_alive: OwnerAlive, now: datetime, batch_tag: str | None = None
) -> Recovered:
    """Rows in `sending` whose owner `owner_alive` says is gone (False): requeued (before the checkpoint,
    attempt given back) or `unknown` (after it). Owners alive (True) or that cannot be judged (None) keep
    their rows. With `batch_tag`, only rows of that batch's companies."""
    ask = memoised(owner_alive)
    gone = [owner for owner in sending_owners(engine, batch_tag) if ask(owner) is False]
    requeued = unknown = 0
    for owner in gone:
        mine = (OM.status == MessageStatus.SENDING) & (OM.claimed_by == owner) & message_in_batch(batch_tag)
        with write_scope(engine) as session:
            settled = settle_by_checkpoint(
                session,
                mine,
                now=now,
                before_data=GONE_BEFORE_DATA.format(owner=owner)[:1000],
                after_data=GONE_AFTER_DATA.format(owner=owner)[:1000],
                claimed_by=None,
            )
        requeued += settled.requeued
        unknown += settled.unknown
    return Recovered(requeued, unknown)
