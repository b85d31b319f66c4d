"""Send claims with owners on SQLite and Postgres: a gone owner's rows are released at once by the checkpoint rule
(no checkpoint: queued, attempt given back; past it: unknown), a live or unjudgeable owner's rows are kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import StaticMxResolver, send_queued
from leadgen.outreach.claims import claim_next
from leadgen.outreach.orphans import release_orphaned_messages
from leadgen.owners import owner_alive, process_owner
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.support.owners import child_owner, dead_owner

OM = OutreachMessage
OFFER = make_offer()
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(20)})
ELSEWHERE = "host=another-host pid=7 start=abc.1 pidns=1"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def sink_settings(settings: Settings, sink: SmtpSink) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    return Settings.model_validate(
        env | {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0}
    )


def claimed_by(
    engine: Engine, settings: Settings, owner: str, *, data: bool, now: datetime = MONDAY_NOON
) -> int:
    """Claim the next row for `owner`, as a sender would; `data` sets its DATA checkpoint (crashed past it)."""
    claim = claim_next(engine, settings, now=now, message_domain="example.ru", owner=owner)
    assert claim.item is not None
    if data:
        with write_scope(engine) as s:
            s.execute(update(OM).where(OM.id == claim.item.id).values(data_started_at=now))
    return claim.item.id


def row(engine: Engine, row_id: int) -> OutreachMessage:
    with write_scope(engine) as s:
        return s.scalars(select(OM).where(OM.id == row_id)).one()


def test_a_dead_senders_rows_follow_the_checkpoint_rule_at_once(engine: Engine, settings: Settings) -> None:
    with write_scope(engine) as s:
        queued_messages(s, 5)
    gone = dead_owner()
    with child_owner() as (live, _child):
        before = claimed_by(engine, settings, gone, data=False)
        after = claimed_by(engine, settings, gone, data=True)
        kept = claimed_by(engine, settings, live, data=True)
        far = claimed_by(engine, settings, ELSEWHERE, data=False)
        # One minute later: far below OUTREACH_STALE_SENDING_MINUTES.
        released = release_orphaned_messages(
            engine, owner_alive=owner_alive, now=MONDAY_NOON + timedelta(minutes=1)
        )
        assert (released.requeued, released.unknown) == (1, 1)
        r = row(engine, before)
        assert (r.status, r.attempts, r.sending_started_at, r.claimed_by) == (
            MessageStatus.QUEUED,
            0,
            None,
            None,
        )
        assert "gone" in (r.last_error or "")
        r = row(engine, after)
        assert (r.status, r.attempts, r.claimed_by) == (MessageStatus.UNKNOWN, 1, gone)  # may have gone out
        assert row(engine, kept).status == MessageStatus.SENDING  # its owner is at work
        assert row(engine, far).status == MessageStatus.SENDING  # cannot be judged: the stale timeout decides


def test_a_flow_run_owner_is_released_when_the_api_says_final(engine: Engine, settings: Settings) -> None:
    with write_scope(engine) as s:
        queued_messages(s, 3)
    runs = {str(uuid.uuid4()): False, str(uuid.uuid4()): True, str(uuid.uuid4()): None}
    ids = {run: claimed_by(engine, settings, f"flow-run={run} {ELSEWHERE}", data=False) for run in runs}

    def fake_api(owner: str) -> bool | None:  # what tasks.claims.owner_alive answers from the Prefect API
        return runs[owner.split()[0].removeprefix("flow-run=")]

    released = release_orphaned_messages(engine, owner_alive=fake_api, now=MONDAY_NOON)
    assert (released.requeued, released.unknown) == (1, 0)
    assert {run: row(engine, i).status for run, i in ids.items()} == {
        run: MessageStatus.QUEUED if alive is False else MessageStatus.SENDING for run, alive in runs.items()
    }


def test_send_releases_a_dead_senders_rows_first_and_claims_in_its_own_name(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = sink_settings(settings, sink)
    with write_scope(engine) as s:
        queued_messages(s, 3)
    gone = dead_owner()
    crashed_before = claimed_by(engine, st, gone, data=False)
    crashed_after = claimed_by(engine, st, gone, data=True)
    report = send_queued(
        engine, st, limit=10, now=MONDAY_NOON + timedelta(minutes=1), offer=OFFER, resolver=MX,
        owner_alive=owner_alive,
    )  # fmt: skip
    assert (report.recovered_requeued, report.recovered_unknown) == (1, 1)
    assert (
        report.sent == 2 and sink.count == 2
    )  # the requeued row and the untouched one; never the unknown one
    r = row(engine, crashed_before)
    assert (r.status, r.attempts, r.claimed_by) == (MessageStatus.SENT, 1, process_owner())
    assert row(engine, crashed_after).status == MessageStatus.UNKNOWN
    # Without `owner_alive` only the stale timeout recovers (the previous behaviour).
    with write_scope(engine) as s:
        queued_messages(s, 1, start=10)
    stuck = claimed_by(engine, st, dead_owner(), data=False, now=MONDAY_NOON + timedelta(minutes=2))
    quiet = send_queued(
        engine, st, limit=10, now=MONDAY_NOON + timedelta(minutes=3), offer=OFFER, resolver=MX
    )
    assert quiet.recovered_requeued == 0 and row(engine, stuck).status == MessageStatus.SENDING


def test_recover_command_releases_a_dead_senders_rows_whatever_their_age(
    engine: Engine, settings: Settings, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from leadgen.cli import app

    with write_scope(engine) as s:
        queued_messages(s, 3)
    gone, now = dead_owner(), datetime.now(UTC)
    before = claimed_by(engine, settings, gone, data=False, now=now)
    after = claimed_by(engine, settings, gone, data=True, now=now)
    kept = claimed_by(
        engine, settings, process_owner(), data=False, now=now
    )  # alive, and a minute old at most
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["outreach", "recover"])
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == "1 rows requeued (crashed before DATA), 1 rows marked unknown (2 of them because their sender is gone)\n"
    )
    assert [row(engine, i).status for i in (before, after, kept)] == [
        MessageStatus.QUEUED, MessageStatus.UNKNOWN, MessageStatus.SENDING,
    ]  # fmt: skip
