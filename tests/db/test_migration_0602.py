"""Migration 0602 builds the one-message-per-address index on a database that already holds duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from leadgen.db import make_engine, migrate

INDEX = "uq_outreach_messages_campaign_lower_to_email"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# (id, campaign, to_email, status): duplicates as the pre-0602 drafter could leave them.
ROWS = [
    (1, "default", "zakaz@dentgroup.ru", "queued"),
    (2, "default", "Zakaz@DentGroup.ru", "sent"),  # went out: keeps the address
    (3, "default", "zakaz@dentgroup.ru", "drafted"),
    (4, "default", "zakaz@dentgroup.ru", "skipped"),  # already skipped: untouched
    (5, "spring", "zakaz@dentgroup.ru", "queued"),  # another campaign: untouched
    (6, "default", "info@clinic1.ru", "sent"),
    (7, "default", "info@clinic1.ru", "sent"),  # mailed twice before the fix
    (8, "default", "office@clinic2.ru", "queued"),
    (9, "default", "office@clinic2.ru", "queued"),
    (10, "default", None, "skipped"),  # forgotten address
    (11, "default", None, "sent"),
]


def test_upgrade_settles_duplicates_then_enforces_the_index(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        migrate.upgrade(engine, "0501")
        with engine.begin() as conn:
            for row_id, campaign, email, status in ROWS:
                conn.execute(
                    text(
                        "INSERT INTO outreach_messages (id, campaign, to_email, status, attempts, metadata,"
                        " created_at, updated_at) VALUES (:id, :campaign, :email, :status, 0, '{}', :now, :now)"
                    ),
                    {"id": row_id, "campaign": campaign, "email": email, "status": status, "now": NOW},
                )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            got = {
                r.id: (r.status, r.last_error)
                for r in conn.execute(text("SELECT id, status, last_error FROM outreach_messages"))
            }
        keep = "duplicate recipient: message {} of this campaign has this address"
        assert got == {
            1: ("skipped", keep.format(2)),
            2: ("sent", None),
            3: ("skipped", keep.format(2)),
            4: ("skipped", None),
            5: ("queued", None),
            6: ("sent", None),
            7: ("skipped", keep.format(6) + " (was sent before migration 0602)"),
            8: ("queued", None),
            9: ("skipped", keep.format(8)),
            10: ("skipped", None),
            11: ("sent", None),
        }
        with pytest.raises(IntegrityError, match=INDEX), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outreach_messages (id, campaign, to_email, status, attempts, metadata, created_at,"
                    " updated_at) VALUES (100, 'spring', 'ZAKAZ@dentgroup.ru', 'drafted', 0, '{}', :now, :now)"
                ),
                {"now": NOW},
            )
        migrate.downgrade(engine, "0501")  # the index goes; the settled rows stay skipped
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outreach_messages (id, campaign, to_email, status, attempts, metadata, created_at,"
                    " updated_at) VALUES (100, 'spring', 'ZAKAZ@dentgroup.ru', 'drafted', 0, '{}', :now, :now)"
                ),
                {"now": NOW},
            )
    finally:
        engine.dispose()
