"""Run Alembic migrations from code (CLI `leadgen db ...`, tests, the demo); the schema changes only here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` up to `revision`."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind `engine` down to `revision` (`base` drops everything)."""
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
