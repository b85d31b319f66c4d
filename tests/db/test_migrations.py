"""Migrations run up and down on SQLite and Postgres and create every table and view."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from leadgen.db import Base, make_engine, migrate
from leadgen.db.views import VIEW_NAMES

TABLES = {
    "serp_queries",
    "serp_operations",
    "serp_results",
    "companies",
    "contacts",
    "outreach_messages",
    "opt_out_registry",
    "processing_jobs",
    "inbound_messages",
    "address_bounces",
    "mailbox_cursors",
    "send_permits",
}


def test_models_declare_every_table() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_upgrade_creates_tables_and_views_then_downgrade_removes_them(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        insp = inspect(engine)
        assert TABLES <= set(insp.get_table_names())
        assert set(VIEW_NAMES) | {"daily_runs"} <= set(insp.get_view_names())
        assert migrate.current_revision(engine) == migrate.head_revision(engine)

        migrate.upgrade(engine)  # idempotent
        migrate.downgrade(engine, "base")
        insp = inspect(engine)
        assert not (TABLES & set(insp.get_table_names()))
        assert not ((set(VIEW_NAMES) | {"daily_runs"}) & set(insp.get_view_names()))
        assert migrate.current_revision(engine) is None

        migrate.upgrade(engine)  # and back up again
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning", "ignore:.*expression-based index")
def test_schema_matches_models(engine) -> None:
    """Autogenerate finds nothing to do: the migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [
            d
            for d in compare_metadata(ctx, Base.metadata)
            # expression indexes cannot be reflected on every dialect; they are tested by behaviour
            if not (
                d[0] in ("add_index", "remove_index") and d[1].name.startswith("uq_") and "lower" in d[1].name
            )
        ]
    assert diff == []


def test_run_journal_view_comes_and_goes_with_0605(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine, "0605")
        assert "daily_runs" in inspect(engine).get_view_names()
        migrate.downgrade(engine, "0604")
        insp = inspect(engine)
        assert "daily_runs" not in insp.get_view_names() and "processing_jobs" in insp.get_table_names()
        assert set(VIEW_NAMES) <= set(insp.get_view_names())
    finally:
        engine.dispose()
