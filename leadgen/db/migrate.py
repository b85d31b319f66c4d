"""Run Alembic migrations from code (CLI `leadgen db ...`, tests, the demo); the schema changes only here."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect, text

from leadgen.errors import ConfigurationError


def _project_root_candidates() -> list[Path]:
    return [Path(__file__).resolve().parents[2], Path.cwd()]


def alembic_config(database_url: str) -> Config:
    """An Alembic Config pointing at the project's migrations/ with the given database URL."""
    for root in _project_root_candidates():
        script_location = root / "migrations"
        if (script_location / "env.py").is_file():
            break
    else:
        raise ConfigurationError(
            "migrations/ not found next to the leadgen package or in the working directory"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["database_url"] = database_url
    return cfg


def check_revision(engine: Engine, revision: str) -> None:
    """Raise ConfigurationError (naming the known revisions) when `revision` is not one this code ships."""
    if revision in ("head", "heads", "base") or revision.lstrip("+-").isdigit():
        return
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    script = ScriptDirectory.from_config(cfg)
    try:
        found = script.get_revisions(revision)
    except (CommandError, RevisionError):
        found = ()
    if not found:
        known = ", ".join(r.revision for r in reversed(list(script.walk_revisions())))
        raise ConfigurationError(f"unknown revision {revision!r}: known revisions are base, {known}, head")


def tables_dropped_by_downgrade(engine: Engine, revision: str) -> dict[str, int]:
    """Table -> row count of every table a downgrade to `revision` would drop; found by running the downgrade
    in a transaction that is rolled back (DDL is transactional on SQLite and Postgres), so nothing changes."""
    check_revision(engine, revision)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    quiet = logging.getLogger("alembic")
    level = quiet.level
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            quote = conn.dialect.identifier_preparer.quote
            before = {
                name: int(conn.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one())
                for name in inspect(conn).get_table_names()
                if name != "alembic_version"
            }
            cfg.attributes["connection"] = conn
            quiet.setLevel(logging.WARNING)  # a rehearsal: no "Running downgrade" lines
            command.downgrade(cfg, revision)
            after = set(inspect(conn).get_table_names())
        finally:
            trans.rollback()
            quiet.setLevel(level)
    return {name: rows for name, rows in sorted(before.items()) if name not in after}


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` up to `revision`."""
    check_revision(engine, revision)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind `engine` down to `revision` (`base` drops everything)."""
    check_revision(engine, revision)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision shipped with this code."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    return ScriptDirectory.from_config(cfg).get_current_head()
