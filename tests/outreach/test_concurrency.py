"""Two senders at once (threads with their own engines and connections; real subprocesses for a crash)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from leadgen.db.engine import make_engine, write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import SmtpMailer, StaticMxResolver, send_queued
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.support.threads import run_in_threads

ROOT = Path(__file__).resolve().parents[2]
OFFER = make_offer()
MX = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(100)})


def sender_settings(settings: Settings, sink: SmtpSink, **kw: object) -> Settings:
    env = settings.model_dump() | sink.settings_env("yandex") | sink.settings_env("gmail")
    env |= {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0} | kw
    return Settings.model_validate(env)


@pytest.mark.parametrize("cap", [100, 25])
def test_two_concurrent_senders_never_send_twice(db_url: str, settings: Settings, cap: int) -> None:
    with SmtpSink() as sink:
        st = sender_settings(settings, sink, outreach_daily_cap=cap)
        setup = make_engine(db_url)
        with write_scope(setup) as s:
            queued_messages(s, 40)
        setup.dispose()
        barrier = threading.Barrier(2)
        reports = []

        def worker() -> None:
            engine = make_engine(db_url)  # its own pool: separate connections
            try:
                barrier.wait()
                factory = lambda route: SmtpMailer(st.smtp_route(route))  # noqa: E731
                reports.append(
                    send_queued(
                        engine,
                        st,
                        limit=100,
                        now=MONDAY_NOON,
                        mailer_factory=factory,
                        resolver=MX,
                        offer=OFFER,
                    )
                )
            finally:
                engine.dispose()

        run_in_threads(worker)
        expected = min(40, cap)
        ids = Counter(m.message_id for m in sink.messages)
        assert sink.count == expected and max(ids.values()) == 1
        assert sum(r.sent for r in reports) == expected
        check = make_engine(db_url)
        with write_scope(check) as s:
            sent = s.scalar(select(OutreachMessage.id).where(OutreachMessage.status == MessageStatus.SENDING))
            counts = Counter(s.scalars(select(OutreachMessage.status)))
        check.dispose()
        assert sent is None and counts[MessageStatus.SENT] == expected
        assert counts[MessageStatus.QUEUED] == 40 - expected


CRASHING_SENDER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from leadgen.db.engine import make_engine
    from leadgen.outreach import SmtpMailer, StaticMxResolver, send_queued
    from leadgen.settings import Settings
    from tests.outreach.factories import MONDAY_NOON, make_offer

    class DiesAfterAccept(SmtpMailer):
        def send(self, message, **kw):
            super().send(message, **kw)
            os._exit(17)  # the process dies after the server accepted, before the database commit

    settings = Settings(_env_file=None)
    engine = make_engine(settings.database_url)
    send_queued(engine, settings, limit=10, now=MONDAY_NOON, offer=make_offer(),
                resolver=StaticMxResolver({}), mailer_factory=lambda r: DiesAfterAccept(settings.smtp_route(r)))
    """
)


def test_process_killed_after_accept_is_never_resent(db_url: str, settings: Settings, tmp_path: Path) -> None:
    with SmtpSink() as sink:
        st = sender_settings(settings, sink)
        engine = make_engine(db_url)
        with write_scope(engine) as s:
            (row_id,) = queued_messages(s, 1)
        env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
        env |= {"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
        env |= {k.upper(): v for k, v in sink.settings_env("yandex").items()}
        env |= {k.upper(): v for k, v in sink.settings_env("gmail").items()}
        env |= {"OUTREACH_SPACING_SECONDS": "0", "OUTREACH_SPACING_JITTER_SECONDS": "0"}
        proc = subprocess.run(
            [sys.executable, "-c", CRASHING_SENDER], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
        assert proc.returncode == 17, proc.stderr.decode()[-2000:]
        assert sink.count == 1
        with write_scope(engine) as s:
            assert s.scalar(select(OutreachMessage.status).where(OutreachMessage.id == row_id)) == "sending"
        from datetime import timedelta

        for hours in (1, 2):
            report = send_queued(
                engine, st, limit=10, now=MONDAY_NOON + timedelta(hours=hours), offer=OFFER, resolver=MX
            )
            assert report.sent == 0
        with write_scope(engine) as s:
            assert s.scalar(select(OutreachMessage.status).where(OutreachMessage.id == row_id)) == "unknown"
        engine.dispose()
        assert sink.count == 1
