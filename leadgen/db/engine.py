"""Engine and session factories; the caller owns the transaction (`with write_scope(engine) as s:`, `read_scope` to read)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session

from leadgen.errors import ConfigurationError, DatabaseUnavailable


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin, so SAVEPOINT works (SQLAlchemy docs,
    # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, /, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Build an engine for `url`; SQLite gets foreign keys, WAL and a busy timeout."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, echo=echo, connect_args={"timeout": 30}, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, echo=echo, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        # the URL may hold a password: name the problem, never repeat the URL
        raise ConfigurationError(
            f"DATABASE_URL is not a valid SQLAlchemy URL ({type(exc).__name__})"
        ) from exc


def missing_sqlite_file(url: str, /) -> str | None:
    """The path of the SQLite file `url` names when that file does not exist yet (connecting would create it);
    None for other databases, in-memory SQLite and existing files."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return None if Path(database).exists() else database


def check_connection(engine: Engine) -> None:
    """Open one connection or raise DatabaseUnavailable with a one-line reason (password hidden)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        safe_url = engine.url.render_as_string(hide_password=True)
        if "not a database" in reason:  # SQLite: the file exists but is something else (issue 22)
            raise ConfigurationError(
                f"DATABASE_URL {safe_url} names a file that is not an SQLite database ({reason})"
            ) from exc
        raise DatabaseUnavailable(f"cannot connect to {safe_url}: {reason}") from exc


# A statement that changes nothing but makes SQLite acquire the RESERVED (write) lock, waiting up to
# busy_timeout. Without it, a transaction that reads and then writes while another connection commits
# fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked") under WAL.
_SQLITE_TAKE_WRITE_LOCK = text("UPDATE outreach_messages SET id = id WHERE 0")


@contextmanager
def write_scope(engine: Engine) -> Iterator[Session]:
    """The one way to open a transaction that writes: commit on success, roll back on error.

    On SQLite it holds the write lock from its first statement (BEGIN IMMEDIATE semantics), so a transaction that
    reads and then writes never fails with SQLITE_BUSY_SNAPSHOT when another connection commits in between.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "sqlite":
            session.execute(_SQLITE_TAKE_WRITE_LOCK)
        yield session


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: it is rolled back at the end, so a write made through it is never kept.

    The objects it loaded stay readable afterwards, as after `write_scope`: they are detached before the rollback,
    which would otherwise expire them.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.expunge_all()
            session.rollback()
