"""Write transactions that take SQLite's write lock first (BEGIN IMMEDIATE semantics) and plain ones elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from leadgen.db.engine import session_scope

# A statement that changes nothing but makes SQLite acquire the RESERVED (write) lock, waiting up to
# busy_timeout. Without it, a transaction that reads and then writes while another connection commits
# fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked") under WAL.
_SQLITE_TAKE_WRITE_LOCK = text("UPDATE outreach_messages SET id = id WHERE 0")


@contextmanager
def write_scope(engine: Engine) -> Iterator[Session]:
    """One transaction that will write: on SQLite it holds the write lock from its first statement."""
    with session_scope(engine) as session:
        if engine.dialect.name == "sqlite":
            session.execute(_SQLITE_TAKE_WRITE_LOCK)
        yield session
