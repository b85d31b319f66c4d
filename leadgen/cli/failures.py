"""The CLI's error boundary: every known failure becomes one `error:` line and an exit code (2 bad input, 1 runtime).

Database errors show the driver's first line only (never the SQL statement or its parameters); the
`leadgen db upgrade` hint is added only when a table or column is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadgen.errors import ConfigurationError, LeadgenError

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

EXIT_BAD_INPUT = 2
EXIT_RUNTIME = 1
# SQLSTATE of undefined_table / undefined_column (Postgres), and SQLite's wording of the same.
_MISSING_SCHEMA_CODES = frozenset({"42P01", "42703"})
_MISSING_SCHEMA_WORDS = ("no such table", "no such column", "has no column named")
_NOT_A_DATABASE_WORDS = ("file is not a database", "file is encrypted or is not a database")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def driver_reason(exc: SQLAlchemyError) -> str:
    """The driver's own message, first line only: no SQL, no parameters, no `(Background on this error ...)`."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return _first_line(str(orig)) or type(orig).__name__
    return _first_line(str(exc).split("\n[SQL:")[0]) or type(exc).__name__


def is_missing_schema(exc: SQLAlchemyError) -> bool:
    """Is this a missing table or column (the database needs `leadgen db upgrade`), not any other failure?"""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _MISSING_SCHEMA_CODES:
        return True
    return (
        orig is not None
        and type(orig).__module__.startswith("sqlite3")
        and any(w in str(orig).lower() for w in _MISSING_SCHEMA_WORDS)
    )


def is_not_a_database(exc: BaseException) -> bool:
    """SQLite opened a file that is not an SQLite database."""
    return any(w in str(getattr(exc, "orig", exc)).lower() for w in _NOT_A_DATABASE_WORDS)


def describe(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit code) for a failure the CLI reports, or None for a bug (let it raise); an empty
    message means the failure was already shown (help printed for a command given no arguments)."""
    if type(exc).__name__ == "Abort":  # Click/Typer: Ctrl-C or EOF at a prompt
        return "aborted: nothing was changed", EXIT_RUNTIME
    exit_code = getattr(exc, "exit_code", None)
    if hasattr(exc, "format_message") and isinstance(exit_code, int):
        # a Click/Typer usage error or bad parameter (Typer vendors Click, so matched by shape, not class)
        text, ctx = exc.format_message().strip(), getattr(exc, "ctx", None)
        if not text:  # no arguments: the help was printed already (NoArgsIsHelpError)
            return "", exit_code
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        return f"{text}{hint}", exit_code
    if isinstance(exc, ConfigurationError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, LeadgenError):
        return str(exc), EXIT_RUNTIME
    # imported here, on the error path only: `leadgen --help` never loads Alembic or SQLAlchemy
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, CommandError):  # Alembic: unknown revision, bad range
        return f"migration: {_first_line(str(exc))}", EXIT_BAD_INPUT
    if isinstance(exc, DBAPIError):
        reason = driver_reason(exc)
        if is_not_a_database(exc):
            return f"DATABASE_URL names a file that is not an SQLite database ({reason})", EXIT_BAD_INPUT
        if is_missing_schema(exc):
            return f"database error: {reason} (try `leadgen db upgrade`)", EXIT_RUNTIME
        return f"database error: {reason}", EXIT_RUNTIME
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {driver_reason(exc)}", EXIT_RUNTIME
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", EXIT_RUNTIME
    return None
