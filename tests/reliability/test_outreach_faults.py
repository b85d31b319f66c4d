"""Fault matrix, outreach side: SMTP 421/450/550/disconnect at rates, and a sender killed with SIGKILL.

Existing coverage this file does not repeat (see docs/reliability.md): tests/outreach/test_outbox.py checks each
SMTP fault on one message, the daily cap, crash after accept (in-process), opt-out between queueing and sending;
tests/outreach/test_concurrency.py checks two concurrent senders and a subprocess that exits after the accept.
Here faults are mixed over a batch sent across several runs, and a real sender process is killed with SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OptOut, OutreachMessage
from leadgen.outreach import StaticMxResolver, send_queued
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import Fault, SmtpSink
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages

ROOT = Path(__file__).resolve().parents[2]
OFFER = make_offer()
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(200)})
# A disconnect after DATA is not transient: the row ends `unknown` (tests/outreach/test_mailer_sink.py).
TRANSIENT = [Fault.TEMP_421, Fault.TEMP_450]


def sink_settings(settings: Settings, sink: SmtpSink, **kw: object) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    env |= {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0} | kw
    return Settings.model_validate(env)


def rows(engine: Engine) -> list[OutreachMessage]:
    with write_scope(engine) as s:
        return list(s.scalars(select(OutreachMessage).order_by(OutreachMessage.id)))


def assert_no_duplicates(sink: SmtpSink, engine: Engine) -> list[OutreachMessage]:
    """Each row's Message-ID reached the sink at most once; sink count == sent rows (+ rows in doubt)."""
    got = Counter(m.message_id for m in sink.messages)
    assert not got or max(got.values()) == 1, got.most_common(3)
    all_rows = rows(engine)
    sent = {r.message_id for r in all_rows if r.status == MessageStatus.SENT}
    doubt = {r.message_id for r in all_rows if r.status in (MessageStatus.UNKNOWN, MessageStatus.SENDING)}
    assert sent <= set(got), "a row marked sent never reached the server"
    assert set(got) <= sent | doubt, "the server got a message whose row is not sent"
    return all_rows


def test_mixed_smtp_faults_over_many_runs(engine: Engine, settings: Settings) -> None:
    rng = random.Random(5)
    with SmtpSink() as sink:
        st = sink_settings(settings, sink, outreach_max_attempts=3, outreach_retry_backoff_seconds=300)
        with write_scope(engine) as s:
            queued_messages(s, 60)
        rejected = {f"director@clinic{i}.ru" for i in rng.sample(range(60), 4)}
        unknown = {f"director@clinic{i}.ru" for i in rng.sample(range(60), 6)} - rejected
        for address in rejected:
            sink.fail_recipient(address, Fault.PERM_550)
        for address in unknown:
            sink.fail_recipient(address, Fault.USER_UNKNOWN, at=rng.choice(["data", "rcpt"]))
        now = MONDAY_NOON
        for _run in range(12):
            for _ in range(rng.randint(1, 4)):  # about one DATA in five fails transiently
                sink.fail_next(rng.choice(TRANSIENT))
            send_queued(engine, st, limit=15, now=now, offer=OFFER, resolver=MX)
            now += timedelta(minutes=20)
        sink.clear_faults()
        final = send_queued(engine, st, limit=100, now=now + timedelta(hours=1), offer=OFFER, resolver=MX)
        all_rows = assert_no_duplicates(sink, engine)
    by_status = Counter(r.status for r in all_rows)
    assert set(by_status) <= {MessageStatus.SENT, MessageStatus.FAILED}, by_status
    assert final.stopped_reason == "no queued messages due"
    for r in all_rows:
        if r.to_email in rejected | unknown:
            assert r.status == MessageStatus.FAILED and "550" in (r.last_error or ""), r
        elif r.status == MessageStatus.FAILED:  # three transient faults in a row on one message
            assert "gave up after 3 attempts" in (r.last_error or "")
        else:
            assert r.attempts >= 1 and r.sent_at is not None
    assert sum(r.attempts > 1 and r.status == MessageStatus.SENT for r in all_rows) >= 3  # retries happened
    assert by_status[MessageStatus.SENT] >= 45
    with write_scope(engine) as s:
        suppressed = set(s.scalars(select(OptOut.value)))
    assert suppressed == unknown  # only "user unknown" bounces suppress the address


KILLED_SENDER = textwrap.dedent(
    """
    import os, signal, sys
    from leadgen.db.engine import make_engine
    from leadgen.outreach import SmtpMailer, StaticMxResolver, send_queued
    from leadgen.settings import Settings
    from tests.outreach.factories import MONDAY_NOON, make_offer

    KILL_AT, WHEN = int(sys.argv[1]), sys.argv[2]

    class Killed(SmtpMailer):
        count = 0
        def send(self, message, **kw):
            Killed.count += 1
            if Killed.count == KILL_AT and WHEN == "before":
                os.kill(os.getpid(), signal.SIGKILL)  # claimed, nothing sent yet
            super().send(message, **kw)
            if Killed.count == KILL_AT and WHEN == "after":
                os.kill(os.getpid(), signal.SIGKILL)  # the server accepted, the database does not know

    settings = Settings(_env_file=None)
    engine = make_engine(settings.database_url)
    send_queued(engine, settings, limit=50, now=MONDAY_NOON, offer=make_offer(),
                resolver=StaticMxResolver({}), mailer_factory=lambda r: Killed(settings.smtp_route(r)))
    """
)


@pytest.mark.parametrize("when", ["before", "after"])
def test_sender_killed_with_sigkill_sends_nothing_twice(engine: Engine, db_url: str, settings: Settings, tmp_path: Path, when: str) -> None:  # fmt: skip
    with SmtpSink() as sink:
        st = sink_settings(settings, sink)
        with write_scope(engine) as s:
            queued_messages(s, 20)
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env |= {"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
        env |= {k.upper(): v for k, v in sink.settings_env("yandex").items()}
        env |= {k.upper(): v for k, v in sink.settings_env("gmail").items()}
        env |= {"OUTREACH_SPACING_SECONDS": "0", "OUTREACH_SPACING_JITTER_SECONDS": "0"}
        proc = subprocess.run(
            [sys.executable, "-c", KILLED_SENDER, "7", when],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        assert sink.count == (7 if when == "after" else 6)
        # The rerun, later that day: a row killed before its DATA checkpoint is requeued and sent; one killed
        # after the server accepted it is recovered as unknown, never resent.
        later = send_queued(
            engine, st, limit=50, now=MONDAY_NOON + timedelta(hours=1), offer=OFFER, resolver=MX
        )
        if when == "after":
            assert later.recovered_unknown == 1 and later.recovered_requeued == 0 and later.sent == 13
        else:
            assert later.recovered_unknown == 0 and later.recovered_requeued == 1 and later.sent == 14
        again = send_queued(
            engine, st, limit=50, now=MONDAY_NOON + timedelta(hours=2), offer=OFFER, resolver=MX
        )
        assert again.sent == 0
        all_rows = assert_no_duplicates(sink, engine)
    by_status = Counter(r.status for r in all_rows)
    if when == "after":
        assert by_status == {MessageStatus.SENT: 19, MessageStatus.UNKNOWN: 1}
    else:
        assert by_status == {MessageStatus.SENT: 20} and all(r.attempts == 1 for r in all_rows)
    assert sink.count == 20
