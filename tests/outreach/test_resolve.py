"""`leadgen outreach resolve`: an `unknown` row settled by hand, on SQLite and Postgres, and its CLI errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import OutreachError
from leadgen.outreach.daily_cap import day_bounds, used_today
from leadgen.outreach.resolve import resolve_unknown
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, queued_messages
from tests.outreach.test_outbox import make_settings

ROOT = Path(__file__).resolve().parents[2]
MID = "<leadgen.{}.5f2c1a@dentaplan.example>"


def unknown_rows(engine: Engine, count: int = 3) -> list[int]:
    with write_scope(engine) as s:
        ids = queued_messages(s, count)
        for row_id in ids:
            row = s.get(OutreachMessage, row_id)
            assert row is not None
            row.status, row.message_id, row.route = MessageStatus.UNKNOWN, MID.format(row_id), "yandex"
            row.sending_started_at, row.attempts = MONDAY_NOON, 1
            row.last_error = "connection lost after the message was sent, before the server's reply"
    return ids


def get(engine: Engine, row_id: int) -> OutreachMessage:
    with write_scope(engine) as s:
        return s.execute(select(OutreachMessage).where(OutreachMessage.id == row_id)).scalar_one()


def test_resolve_by_message_id_with_or_without_brackets_or_by_row_id(
    engine: Engine, settings: Settings
) -> None:
    a, b, c = unknown_rows(engine)
    later = MONDAY_NOON + timedelta(hours=2)
    done = resolve_unknown(engine, MID.format(a), sent=True, now=later, by="anna", note="in the Sent folder")
    assert (done.id, done.status) == (a, "sent")
    resolve_unknown(engine, MID.format(b).strip("<>"), sent=False, now=later, by="anna")
    resolve_unknown(engine, f" {c} ", sent=True, now=later, by="ivan")
    first = get(engine, a)
    assert first.status == MessageStatus.SENT and first.sent_at == MONDAY_NOON and first.last_error is None
    assert first.meta["resolution"] == {
        "outcome": "sent",
        "by": "anna",
        "at": later.isoformat(),
        "evidence": "manual",
        "note": "in the Sent folder",
    }
    second = get(engine, b)
    assert (
        second.status == MessageStatus.FAILED and second.last_error == "not sent (resolved by hand by anna)"
    )
    assert second.meta["resolution"]["evidence"] == "manual" and "note" not in second.meta["resolution"]
    assert get(engine, c).meta["resolution"]["by"] == "ivan"
    # Settled as sent, the rows still count against the day they were sent; the failed one no longer does.
    st = make_settings(settings)
    with write_scope(engine) as s:
        assert used_today(s, *day_bounds(MONDAY_NOON, st)) == 2


def test_resolve_refuses_unknown_ids_and_rows_not_in_doubt(engine: Engine) -> None:
    (row_id,) = unknown_rows(engine, 1)
    with pytest.raises(OutreachError, match="no outreach message with Message-ID or id '<nope@x>'"):
        resolve_unknown(engine, "<nope@x>", sent=True, now=MONDAY_NOON, by="anna")
    with pytest.raises(OutreachError, match="no outreach message"):
        resolve_unknown(engine, "999", sent=True, now=MONDAY_NOON, by="anna")
    resolve_unknown(engine, str(row_id), sent=True, now=MONDAY_NOON, by="anna")
    with pytest.raises(OutreachError, match=rf"message {row_id} \(.*\) is sent, not unknown"):
        resolve_unknown(engine, str(row_id), sent=False, now=MONDAY_NOON, by="anna")
    assert get(engine, row_id).status == MessageStatus.SENT


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadgen", "outreach", "resolve", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        timeout=60,
        check=False,
    )


def test_cli_resolve(db_url: str, engine: Engine, tmp_path: Path) -> None:
    (row_id,) = unknown_rows(engine, 1)
    shutil.copy(ROOT / "offer.example.toml", tmp_path / "offer.toml")
    env = {"DATABASE_URL": db_url, "OUTREACH_OFFER_FILE": str(tmp_path / "offer.toml")}
    proc = run_cli(env, MID.format(row_id), "--sent", "--by", "anna", "--note", "seen in Sent")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"message {row_id} {MID.format(row_id)} to director@clinic0.ru: sent"
    assert get(engine, row_id).meta["resolution"]["note"] == "seen in Sent"
    again = run_cli(env, str(row_id), "--failed")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"error: message {row_id} ({MID.format(row_id)}) is sent, not unknown: only unknown rows are resolved by hand"
    )
    missing = run_cli(env, "leadgen.404@dentaplan.example", "--sent")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "error: no outreach message with Message-ID or id 'leadgen.404@dentaplan.example'",
    )
