"""Where the outbox stands, on SQLite and Postgres: queued, sending, unknown and settled counts, in the funnel and in
`leadgen report` (text and --json)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db.engine import write_scope
from leadgen.db.models import Company, MessageStatus, OutreachMessage
from leadgen.outbox_counts import OutboxCounts, outbox_counts
from leadgen.pipeline_stats import funnel
from tests.outreach.factories import queued_messages


def seed(engine: Engine) -> None:
    """Seven rows: 2 queued, 1 sending, 1 unknown, 3 settled (from a sent folder, by hand, by a bounce)."""
    with write_scope(engine) as s:
        queued_messages(s, 7)
        rows = list(s.scalars(select(OutreachMessage).order_by(OutreachMessage.id)))
        rows[0].status = MessageStatus.SENDING
        rows[1].status = MessageStatus.UNKNOWN
        rows[2].status = MessageStatus.SENT
        rows[2].meta = {"settlements": [{"outcome": "sent", "folder": "Sent", "uid": 7}]}
        rows[3].status = MessageStatus.FAILED
        rows[3].meta = {"resolution": {"outcome": "failed", "by": "anna", "evidence": "manual"}}
        rows[4].status = MessageStatus.BOUNCED
        rows[4].meta = {"settled_by": "bounce quoting the Message-ID", "route": "yandex"}
        rows[5].meta = {"route": "gmail"}  # queued, never in doubt
        for company in s.scalars(select(Company)):
            company.batch_tag = "b1"


def test_outbox_counts(engine: Engine) -> None:
    seed(engine)
    with write_scope(engine) as s:
        assert outbox_counts(s) == OutboxCounts(queued=2, sending=1, unknown=1, settled=3)
        assert outbox_counts(s, campaign="default", batch_tag="b1") == outbox_counts(s)
        assert outbox_counts(s, campaign="another") == OutboxCounts()
        f = funnel(s, batch_tag="b1")
    assert (f.queued, f.sending, f.unknown, f.settled, f.sent, f.failed) == (2, 1, 1, 3, 2, 1)
    with write_scope(engine) as s:  # a key alone marks a settled row, whatever its value
        row = s.scalars(select(OutreachMessage).where(OutreachMessage.status == MessageStatus.QUEUED)).first()
        assert row is not None
        row.meta = {"settled": None}
    with write_scope(engine) as s:
        assert outbox_counts(s).settled == 4


def test_report_shows_the_outbox(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(engine)
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["funnel"]
    assert {k: data[k] for k in ("queued", "sending", "unknown", "settled")} == {
        "queued": 2, "sending": 1, "unknown": 1, "settled": 3,
    }  # fmt: skip
    text = runner.invoke(app, ["report"]).output
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 2}
    for name, count in (("queued", 2), ("sending", 1), ("unknown", 1), ("settled", 3)):
        assert lines[name].split("│")[2].strip() == str(count), text
