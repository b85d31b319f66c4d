"""Message-IDs on SQLite and Postgres: random and opaque, never repeated across databases, stable across retries."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from leadgen.db import make_engine
from leadgen.db.engine import write_scope
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import Fault, SmtpSink
from tests.conftest import create_pg_database, drop_pg_database
from tests.outreach.factories import MONDAY_NOON, queued_messages
from tests.outreach.test_outbox import make_settings, row, send

OPAQUE_ID = re.compile(r"<[0-9a-f]{32}@dentaplan\.example>")  # the offer's sender is anna@dentaplan.example


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(tls="starttls", auth=("robot", "secret")) as s:
        yield s


@pytest.fixture
def other_engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A second freshly migrated database on the same backend (another install, or the same one after a reset)."""
    if backend == "sqlite":
        path = tmp_path / "other.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    name = f"lgt_other_{uuid.uuid4().hex[:12]}"
    eng = make_engine(create_pg_database(name, template=request.getfixturevalue("pg_template")))
    yield eng
    eng.dispose()
    drop_pg_database(name)


def test_message_ids_are_opaque_unique_across_databases_and_stable_across_retries(
    engine: Engine, other_engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        (row_a,) = queued_messages(s, 1)
    with write_scope(other_engine) as s:
        (row_b,) = queued_messages(s, 1)
    assert row_a == row_b  # the same row id and campaign in both databases

    # Database A: a temporary failure stores the Message-ID; the retry sends under the same one.
    sink.fail_next(Fault.TEMP_421)
    assert send(engine, st).retried == 1
    first_attempt = row(engine, row_a).message_id
    assert first_attempt is not None and OPAQUE_ID.fullmatch(first_attempt), first_attempt
    assert send(engine, st, now=MONDAY_NOON + timedelta(hours=1)).sent == 1
    sent_a = row(engine, row_a)
    assert sent_a.attempts == 2 and sent_a.message_id == first_attempt
    assert [m.message_id for m in sink.messages] == [first_attempt]

    # Database B: the same row id and campaign get a different Message-ID.
    assert send(other_engine, st).sent == 1
    id_b = row(other_engine, row_b).message_id
    assert id_b is not None and OPAQUE_ID.fullmatch(id_b), id_b
    assert id_b != first_attempt
    assert [m.message_id for m in sink.messages] == [first_attempt, id_b]

    # Nothing in the id names the row, the campaign or this program (send volume stays private).
    for value in (first_attempt, id_b):
        local = value.strip("<>").partition("@")[0]
        assert "leadgen" not in value and sent_a.campaign not in value and f".{row_a}." not in value
        assert local != str(row_a) and len(local) == 32
