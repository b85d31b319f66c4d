"""Shared CLI plumbing: settings built once per invocation, stderr console, one-line failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from leadgen.cli.console import err_console, out_console, print_error
from leadgen.errors import ConfigurationError

if TYPE_CHECKING:  # pydantic, SQLAlchemy and the settings model load when a command first needs them
    from sqlalchemy import Engine

    from leadgen.settings import Settings

__all__ = [
    "batch_tag_option",
    "err_console",
    "fail",
    "get_engine",
    "get_settings",
    "load_settings",
    "out_console",
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and exit with `code` (no traceback)."""
    print_error(message)
    raise typer.Exit(code)


def batch_tag_option(tag: str | None) -> str | None:
    """Callback of every `--batch-tag` option: the one batch-tag rule (leadgen.batch_tags), else exit 2."""
    from leadgen.batch_tags import batch_tag_problem

    if tag is not None and (problem := batch_tag_problem(tag)):
        fail(f"--batch-tag {problem}", code=2)
    return tag


def load_settings() -> Settings:
    """Build Settings from the environment and .env, turning validation errors into one line."""
    from pydantic import ValidationError

    from leadgen.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc


def get_settings(ctx: typer.Context) -> Settings:
    """Settings of this invocation, built once by the root callback (or here when it was skipped)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
    settings: Settings = obj["settings"]
    return settings


def get_engine(ctx: typer.Context, *, check: bool = True, must_exist: bool = False) -> Engine:
    """Engine of this invocation; checks that the database answers unless `check=False`. With `must_exist`
    (dry runs) a missing SQLite file is an error instead of being created empty."""
    from leadgen.db.engine import check_connection, make_engine, missing_sqlite_file
    from leadgen.errors import DatabaseUnavailable

    obj = ctx.ensure_object(dict)
    if "engine" not in obj:
        url = get_settings(ctx).database_url
        if must_exist and (missing := missing_sqlite_file(url)) is not None:
            raise DatabaseUnavailable(
                f"database file {missing} does not exist; a dry run creates nothing (run `leadgen db upgrade` first)"
            )
        engine = make_engine(url)
        if check:
            check_connection(engine)
        obj["engine"] = engine
        ctx.call_on_close(engine.dispose)
    engine_: Engine = obj["engine"]
    return engine_
