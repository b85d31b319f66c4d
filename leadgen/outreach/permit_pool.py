"""The rate-limit permits one send run holds: taken a few at a time, one spent per claim, the rest given back.

A permit of Prefect's `email-daily` costs a request to the API, which on this class of machine is as much as the
rest of a message's work in the database; so a run takes up to `PERMIT_BATCH` in one request (never more than
are free, due, left of the cap, or left of the run's limit) and spends them one per claimed message. What it
holds unused is written to `send_permits` under its owner: added after each take, one taken off inside each
claim transaction (leadgen.outreach.claims), and given back when the run ends. The row never counts more than
the owner holds unused, so when an owner is gone (crashed, killed) the next run returns its row's permits
(`return_orphaned_permits`) without ever freeing a slot a message used. A killed sender thus keeps at most the
permit of the message in flight, as when it took one per message, except when the kill falls between a take and
its record (a few milliseconds per batch): that take's permits (at most PERMIT_BATCH) are lost until the limit's
decay frees them, never given back twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Update, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from leadgen.db import read_scope, write_scope
from leadgen.db.models import SendPermit
from leadgen.outreach.permits import Permits
from leadgen.owners import OwnerAlive, memoised

# The most permits one request takes (the limit's free slots bound it too: PREFECT_EMAIL_BURST).
PERMIT_BATCH = 10


class PermitPool:
    """The permits a send run (`owner`) holds; `held` is what it has on hand."""

    def __init__(self, engine: Engine, permits: Permits, owner: str, *, timeout: float) -> None:
        self.engine, self.permits, self.owner, self.timeout = engine, permits, owner, timeout
        self.held = 0

    def ensure(self, wanted: int, *, now: datetime) -> bool:
        """At least one permit on hand: when none is, take up to min(`wanted`, PERMIT_BATCH) (waiting up to the
        timeout for the first); False when none came in time."""
        if self.held:
            return True
        count = self.permits.take(max(1, min(wanted, PERMIT_BATCH)), self.timeout)
        if count <= 0:
            return False
        self.held += count
        _add(self.engine, self.owner, count, now=now)
        return True

    def spent(self) -> None:
        """A claim took one (its transaction took it off the owner's row)."""
        self.held -= 1

    def unspent(self) -> None:
        """The claimed message had no SMTP conversation: its permit serves the next one (the row stays lower,
        which only ever returns fewer after a crash, never more)."""
        self.held += 1

    def close(self) -> None:
        """Give back what is left: the row first, then the limit (a crash in between loses them, never frees more)."""
        with write_scope(self.engine) as session:
            session.execute(delete(SendPermit).where(SendPermit.owner == self.owner))
        held, self.held = self.held, 0
        if held > 0:
            self.permits.give_back(held)


def _add(engine: Engine, owner: str, count: int, *, now: datetime) -> None:
    """`count` more permits on `owner`'s row (an upsert: the primary key keeps one row per owner)."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(SendPermit).values(owner=owner, held=count, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SendPermit.owner],
        set_={"held": SendPermit.held + stmt.excluded.held, "updated_at": stmt.excluded.updated_at},
    )
    with write_scope(engine) as session:
        session.execute(stmt)


def spend_permit(owner: str) -> Update:
    """The statement a claim transaction runs to take one of `owner`'s permits off its row."""
    return (
        update(SendPermit)
        .where(SendPermit.owner == owner, SendPermit.held > 0)
        .values(held=SendPermit.held - 1)
        .execution_options(synchronize_session=False)
    )


def return_orphaned_permits(engine: Engine, permits: Permits, *, owner_alive: OwnerAlive, me: str) -> int:
    """Give back the permits of owners `owner_alive` says are gone (False); the number returned. Each row is
    deleted before its permits go back, so two runs never return the same ones."""
    ask = memoised(owner_alive)
    with read_scope(engine) as session:
        owners = list(session.scalars(select(SendPermit.owner).where(SendPermit.owner != me)))
    returned = 0
    for owner in owners:
        if ask(owner) is not False:
            continue
        with write_scope(engine) as session:
            held = session.scalar(
                delete(SendPermit).where(SendPermit.owner == owner).returning(SendPermit.held)
            )
        if held:
            permits.give_back(held)
            returned += held
    return returned
