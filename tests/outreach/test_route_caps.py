"""Per-route daily caps under the global cap (SQLite and Postgres): the fallback never passes its own cap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import RecordingMailer, StaticMxResolver
from leadgen.outreach.daily_cap import route_cap
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, queued_messages
from tests.outreach.test_outbox import make_settings, send

# clinicN.ru is hosted by Yandex (-> route yandex), corpN.com by Google Workspace (-> route gmail).
MX = StaticMxResolver(
    {f"clinic{i}.ru": ["mx.yandex.net"] for i in range(40)}
    | {f"corp{i}.com": ["aspmx.l.google.com", "alt1.aspmx.l.google.com"] for i in range(40)}
)
TUESDAY = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 09:00 Moscow


def rows(engine: Engine) -> dict[str, OutreachMessage]:
    with write_scope(engine) as s:
        return {r.to_email or "": r for r in s.scalars(select(OutreachMessage).order_by(OutreachMessage.id))}


def mailers() -> dict[str, RecordingMailer]:
    return {"yandex": RecordingMailer("yandex"), "gmail": RecordingMailer("gmail")}


def test_route_cap_defaults_to_the_global_cap_and_never_exceeds_it(settings: Settings) -> None:
    st = make_settings(
        settings, outreach_daily_cap=50, outreach_daily_cap_gmail=20, outreach_daily_cap_yandex=80
    )
    assert (route_cap(st, "gmail"), route_cap(st, "yandex")) == (20, 50)
    assert route_cap(make_settings(settings, outreach_daily_cap=7), "yandex") == 7


def test_overflow_goes_to_the_fallback_until_its_own_cap_then_waits(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(
        settings, outreach_daily_cap=10, outreach_daily_cap_yandex=3, outreach_daily_cap_gmail=3
    )
    with write_scope(engine) as s:
        queued_messages(s, 5)  # director@clinic0..4.ru -> yandex
        queued_messages(s, 2, domain_fmt="corp{i}.com")  # director@corp0..1.com -> gmail
    routes = mailers()
    report = send(engine, st, mailer_factory=routes.__getitem__, resolver=MX)
    assert (report.sent, report.route_cap_reached, report.cap_reached) == (6, True, False)
    assert report.stopped_reason == "daily cap of route gmail (3), yandex (3) reached"
    sent_to = {name: [str(m["To"]) for m in mailer.sent] for name, mailer in routes.items()}
    assert sent_to == {
        "yandex": ["director@clinic0.ru", "director@clinic1.ru", "director@clinic2.ru"],
        "gmail": ["director@clinic3.ru", "director@clinic4.ru", "director@corp0.com"],
    }
    got = rows(engine)
    assert got["director@clinic3.ru"].route == "gmail"
    assert got["director@clinic3.ru"].meta["route_fallback_from"] == "yandex"
    assert got["director@clinic3.ru"].meta["route_errors"] == ["route yandex: daily cap reached"]
    waiting = got["director@corp1.com"]
    assert (waiting.status, waiting.attempts, waiting.sending_started_at) == (MessageStatus.QUEUED, 0, None)
    assert waiting.last_error == "route daily cap reached: gmail (3), yandex (3)"
    # Later the same day: the caps count what was sent earlier today, so nothing goes.
    again = send(
        engine, st, now=MONDAY_NOON + timedelta(hours=4), mailer_factory=routes.__getitem__, resolver=MX
    )
    assert (again.sent, again.route_cap_reached) == (0, True)
    # Next day it goes through its own route.
    tomorrow = send(engine, st, now=TUESDAY, mailer_factory=routes.__getitem__, resolver=MX)
    assert tomorrow.sent == 1 and rows(engine)["director@corp1.com"].route == "gmail"
    assert len(routes["gmail"].sent) == 4


def test_rows_in_doubt_count_against_their_route(engine: Engine, settings: Settings) -> None:
    st = make_settings(
        settings, outreach_daily_cap=10, outreach_daily_cap_yandex=2, outreach_daily_cap_gmail=1
    )
    with write_scope(engine) as s:
        first, *_ = queued_messages(s, 4)
        row = s.get(OutreachMessage, first)
        assert row is not None
        row.status, row.route, row.sending_started_at = MessageStatus.UNKNOWN, "yandex", MONDAY_NOON
    routes = mailers()
    report = send(engine, st, mailer_factory=routes.__getitem__, resolver=MX)
    assert report.sent == 2 and len(routes["yandex"].sent) == 1 and len(routes["gmail"].sent) == 1
    assert report.stopped_reason == "daily cap of route yandex (2), gmail (1) reached"


def test_the_global_cap_still_binds_below_the_route_caps(engine: Engine, settings: Settings) -> None:
    st = make_settings(
        settings, outreach_daily_cap=3, outreach_daily_cap_yandex=5, outreach_daily_cap_gmail=5
    )
    with write_scope(engine) as s:
        queued_messages(s, 2)
        queued_messages(s, 2, domain_fmt="corp{i}.com")
    routes = mailers()
    report = send(engine, st, mailer_factory=routes.__getitem__, resolver=MX)
    assert (report.sent, report.cap_reached, report.route_cap_reached) == (3, True, False)


def test_concurrent_senders_never_pass_a_route_cap(engine: Engine, settings: Settings, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip(
            "concurrent writers are exercised on Postgres (SQLite serialises them with its file lock)"
        )
    st = make_settings(
        settings, outreach_daily_cap=30, outreach_daily_cap_yandex=4, outreach_daily_cap_gmail=5
    )
    with write_scope(engine) as s:
        queued_messages(s, 12)
        queued_messages(s, 12, domain_fmt="corp{i}.com")
    routes = mailers()

    def run() -> None:
        send(engine, st, mailer_factory=routes.__getitem__, resolver=MX)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(routes["yandex"].sent), len(routes["gmail"].sent)) == (4, 5)
    with write_scope(engine) as s:
        sent = s.scalars(
            select(OutreachMessage.route).where(OutreachMessage.status == MessageStatus.SENT)
        ).all()
    assert sorted(sent) == ["gmail"] * 5 + ["yandex"] * 4


@pytest.mark.parametrize("later", [MessageStatus.BOUNCED, MessageStatus.REPLIED])
def test_a_message_that_bounced_or_got_a_reply_today_still_used_its_slot(
    engine: Engine, settings: Settings, later: MessageStatus
) -> None:
    st = make_settings(settings, outreach_daily_cap=2, outreach_daily_cap_yandex=2)
    with write_scope(engine) as s:
        first, *_ = queued_messages(s, 3)
        row = s.get(OutreachMessage, first)
        assert row is not None
        row.status, row.route, row.sent_at = later, "yandex", MONDAY_NOON - timedelta(hours=1)
    routes = mailers()
    report = send(engine, st, mailer_factory=routes.__getitem__, resolver=MX)
    assert (report.sent, report.cap_reached) == (1, True)
