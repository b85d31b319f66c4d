"""The outbox end to end on SQLite and Postgres: draft, queue, send under the cap, opt-out, faults, crashes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from leadgen.clock import ManualClock
from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OptOut, OptOutKind, OutreachMessage
from leadgen.outreach import (
    RecordingMailer,
    SmtpMailer,
    StaticMxResolver,
    draft_messages,
    queue_messages,
    recover_stale_sending,
    send_queued,
)
from leadgen.outreach.composer import FallbackComposer
from leadgen.outreach.forget import forget
from leadgen.outreach.optout import add_opt_out
from leadgen.outreach.recovery import recover_rows
from leadgen.outreach.sendable import Sendable, sendable_now
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import Fault, SmtpSink
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer, queued_messages

OFFER = make_offer()
MX = {f"clinic{i}.ru": ["mx.yandex.net"] for i in range(200)} | {"corp.com": ["aspmx.l.google.com"]}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(tls="starttls", auth=("robot", "secret")) as s:
        yield s


def make_settings(settings: Settings, sink: SmtpSink | None = None, **kw: object) -> Settings:
    env: dict[str, object] = {
        "outreach_spacing_seconds": 0,
        "outreach_spacing_jitter_seconds": 0,
        "outreach_dry_run_dir": settings.data_dir / "outbox",
    }
    if sink is not None:
        env |= sink.settings_env("yandex") | sink.settings_env("gmail")
    env |= kw
    return Settings.model_validate(settings.model_dump() | env)


def statuses(engine: Engine) -> dict[str, int]:
    with write_scope(engine) as s:
        rows = s.execute(select(OutreachMessage.status, func.count()).group_by(OutreachMessage.status)).all()
    return {str(status): n for status, n in rows}


def row(engine: Engine, row_id: int) -> OutreachMessage:
    with write_scope(engine) as s:
        return s.execute(select(OutreachMessage).where(OutreachMessage.id == row_id)).scalar_one()


def send(engine: Engine, settings: Settings, **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("now", MONDAY_NOON)
    kw.setdefault("limit", 500)
    kw.setdefault("resolver", StaticMxResolver(MX))
    return send_queued(engine, settings, offer=OFFER, **kw)  # type: ignore[arg-type]


def test_draft_queue_send_through_the_sink(engine: Engine, settings: Settings, sink: SmtpSink) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("info@clinic1.ru", "director@clinic1.ru"))
        add_company(s, "clinic2.ru", emails=("noreply@clinic2.ru", "Zakaz@Clinic2.ru"))
        add_company(s, "clinic3.ru", emails=())  # no email: not a candidate
        add_company(s, "clinic4.ru", emails=("noreply@clinic4.ru", "not an address"))
    report = draft_messages(engine, st, limit=10, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER)
    assert (report.considered, report.drafted, report.fallback, report.skipped) == (3, 2, 2, 1)
    assert report.errors[0].reason == "no usable email address"
    queued = queue_messages(engine, st, limit=10, now=MONDAY_NOON, resolver=StaticMxResolver(MX), offer=OFFER)
    assert (queued.queued, queued.role_addresses) == (2, 1)  # director@ is a person's mailbox, zakaz@ a role
    result = send(engine, st)
    assert (result.sent, result.failed, result.sent_today) == (2, 0, 2)
    assert sink.count == 2
    with write_scope(engine) as s:
        rows = s.scalars(
            select(OutreachMessage)
            .where(OutreachMessage.status != MessageStatus.SKIPPED)
            .order_by(OutreachMessage.id)
        ).all()
    # The recipient preference picks director@ over info@ (OUTREACH_RECIPIENT_PREFERENCE).
    assert [r.to_email for r in rows] == ["director@clinic1.ru", "zakaz@clinic2.ru"]
    assert [r.meta["recipient_choice"] for r in rows] == [
        "preferred: director@ (rank 1 of 11) among 2 addresses",
        "preferred: sales: zakaz@ (rank 2 of 11) (only address)",
    ]
    for r in rows:
        assert r.status == MessageStatus.SENT and r.sent_at == MONDAY_NOON and r.attempts == 1
        assert r.route == "yandex" and r.meta["route"] == "yandex" and r.meta["mx"] == ["mx.yandex.net"]
        assert r.meta["mx_class"] == "RU" and r.meta["role_address"] is (r.to_email == "zakaz@clinic2.ru")
        assert r.meta["composer"] == "fallback" and r.meta["fallback_reason"] == "no_api_key"
    ids = {m.message_id for m in sink.messages}
    assert ids == {r.message_id for r in rows}
    parsed = sink.messages[0].parsed()
    assert parsed["List-Unsubscribe"].startswith("<mailto:anna@dentaplan.example")
    for report_ in (report, queued, result):
        json.dumps(asdict(report_))  # JSON-serialisable as the orchestration layer needs
    # Re-running every stage changes nothing.
    assert (
        draft_messages(
            engine, st, limit=10, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER
        ).drafted
        == 0
    )
    assert send(engine, st).sent == 0 and sink.count == 2


class CountingComposer(FallbackComposer):
    name = "llm"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def compose(self, company, contact, offer):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().compose(company, contact, offer)


def test_stored_drafts_are_not_paid_for_twice(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("info@clinic1.ru",))
    composer = CountingComposer()
    draft_messages(engine, st, limit=10, now=MONDAY_NOON, composer=composer, offer=OFFER)
    draft_messages(engine, st, limit=10, now=MONDAY_NOON, composer=composer, offer=OFFER)
    assert composer.calls == 1
    # A second campaign with the same company, offer and template version reuses the stored draft.
    spring = st.model_copy(update={"outreach_campaign": "spring"})
    report = draft_messages(engine, spring, limit=10, now=MONDAY_NOON, composer=composer, offer=OFFER)
    assert (report.drafted, report.reused, composer.calls) == (1, 1, 1)
    # A changed offer is a new cache key: a new draft is paid for.
    autumn = st.model_copy(update={"outreach_campaign": "autumn"})
    other = make_offer(offer__product="Онлайн-запись для клиник")
    draft_messages(engine, autumn, limit=10, now=MONDAY_NOON, composer=composer, offer=other)
    assert composer.calls == 2


def test_opt_out_added_between_queueing_and_sending_is_honoured(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        ids = queued_messages(s, 4)
    with write_scope(engine) as s:
        add_opt_out(s, "director@clinic0.ru", kind=OptOutKind.EMAIL)
        add_opt_out(s, "clinic1.ru", kind=OptOutKind.DOMAIN)
        forget(s, "director@clinic2.ru", now=MONDAY_NOON)
    result = send(engine, st)
    assert (result.sent, result.skipped) == (1, 2)  # the forgotten row was already skipped by `forget`
    assert [m.rcpt_tos for m in sink.messages] == [("director@clinic3.ru",)]
    assert row(engine, ids[0]).last_error == "opted out: email"
    assert row(engine, ids[1]).last_error == "opted out: domain clinic1.ru"
    assert row(engine, ids[2]).status == MessageStatus.SKIPPED
    assert all(row(engine, i).attempts == 0 for i in ids[:3])


def test_the_101st_message_of_a_day_is_not_sent(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=100)
    with write_scope(engine) as s:
        ids = queued_messages(s, 101)
    mailer = RecordingMailer()
    clock = ManualClock(MONDAY_NOON)
    result = send(engine, st, now=clock, mailer_factory=lambda route: mailer, sleep=clock.sleep)
    assert result.sent == 100 and result.cap_reached and result.sent_today == 100
    assert len(mailer.sent) == 100
    assert row(engine, ids[-1]).status == MessageStatus.QUEUED and row(engine, ids[-1]).attempts == 0
    # Later the same local day: still capped.
    assert send(engine, st, now=MONDAY_NOON + timedelta(hours=5), mailer_factory=lambda r: mailer).sent == 0
    # Next local day (Tuesday 09:00 Moscow = 06:00 UTC): it goes.
    tuesday = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert send(engine, st, now=tuesday, mailer_factory=lambda r: mailer).sent == 1
    assert len(mailer.sent) == 101 and len({m["Message-ID"] for m in mailer.sent}) == 101


def test_sendable_now_counts_due_rows_up_to_the_cap_left(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=3)
    with write_scope(engine) as s:
        ids = queued_messages(s, 5)
        s.get(OutreachMessage, ids[0]).next_attempt_at = MONDAY_NOON + timedelta(hours=1)  # type: ignore[union-attr]
    assert sendable_now(engine, st, MONDAY_NOON) == Sendable(due=4, cap_left=3)
    assert sendable_now(engine, st, MONDAY_NOON).now == 3
    mailer = RecordingMailer()
    assert send(engine, st, now=MONDAY_NOON, mailer_factory=lambda route: mailer, limit=2).sent == 2
    assert sendable_now(engine, st, MONDAY_NOON) == Sendable(due=2, cap_left=1, used_today=2)
    assert send(engine, st, now=MONDAY_NOON, mailer_factory=lambda route: mailer).sent == 1
    assert sendable_now(engine, st, MONDAY_NOON).now == 0


def test_cap_counts_the_local_day(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=2, outreach_send_window="00:00-23:59")
    with write_scope(engine) as s:
        ids = queued_messages(s, 4)
        msgs = s.scalars(select(OutreachMessage).where(OutreachMessage.id.in_(ids[:2]))).all()
        msgs[0].status, msgs[0].sent_at = (
            MessageStatus.SENT,
            datetime(2026, 11, 22, 20, 30, tzinfo=UTC),
        )  # 23:30 MSK Sun
        msgs[1].status, msgs[1].sent_at = (
            MessageStatus.SENT,
            datetime(2026, 11, 22, 21, 30, tzinfo=UTC),
        )  # 00:30 MSK Mon
    mailer = RecordingMailer()
    result = send(engine, st, now=datetime(2026, 11, 23, 5, 0, tzinfo=UTC), mailer_factory=lambda r: mailer)
    assert result.sent == 1 and result.cap_reached


def test_crash_after_the_server_accepted_leads_to_unknown_and_no_duplicate(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        ids = queued_messages(s, 2)

    class Crash(BaseException):
        """Stands for the process dying: nothing after the SMTP accept runs."""

    class CrashingMailer(SmtpMailer):
        def send(self, message: EmailMessage, /, **kw: Any) -> None:
            super().send(message, **kw)
            raise Crash

    def factory(route: str) -> SmtpMailer:
        return CrashingMailer(st.smtp_route(route), ssl_context=sink.client_context())  # type: ignore[arg-type]

    with pytest.raises(Crash):
        send(engine, st, mailer_factory=factory)
    assert sink.count == 1 and row(engine, ids[0]).status == MessageStatus.SENDING
    # A rerun soon after does not touch the in-flight row and sends the other one.
    ok = send(engine, st, now=MONDAY_NOON + timedelta(minutes=1))
    assert ok.sent == 1 and ok.sent_today == 2 and row(engine, ids[0]).status == MessageStatus.SENDING
    # Later, the row found in `sending` becomes unknown and is never resent.
    later = send(engine, st, now=MONDAY_NOON + timedelta(hours=1))
    assert later.recovered_unknown == 1 and later.sent == 0
    assert row(engine, ids[0]).status == MessageStatus.UNKNOWN
    assert send(engine, st, now=MONDAY_NOON + timedelta(hours=2)).sent == 0
    assert sink.count == 2 and len(sink.messages_to("director@clinic0.ru")) == 1
    assert recover_stale_sending(engine, now=MONDAY_NOON + timedelta(days=1)) == 0


def test_a_claim_taken_back_before_data_is_not_sent(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    """Another run's recovery requeued the row while this sender was still before DATA: its checkpoint finds
    the claim gone, DATA is never issued, and the row is left to the queue."""
    st = make_settings(settings, sink, outreach_max_attempts=1)
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)

    class SlowStarter(SmtpMailer):
        def send(self, message: EmailMessage, /, **kw: Any) -> None:
            assert recover_rows(engine, now=MONDAY_NOON + timedelta(hours=1)).requeued == 1
            super().send(message, **kw)

    def factory(route: str) -> SmtpMailer:
        return SlowStarter(st.smtp_route(route), ssl_context=sink.client_context())  # type: ignore[arg-type]

    result = send(engine, st, mailer_factory=factory, limit=1)
    assert result.sent == result.failed == result.unknown == 0 and sink.count == 0
    assert "no longer claimed" in result.errors[0].reason
    r = row(engine, row_id)
    assert (r.status, r.attempts, r.data_started_at) == (MessageStatus.QUEUED, 0, None)
    assert send(engine, st, now=MONDAY_NOON + timedelta(hours=2)).sent == 1 and sink.count == 1


def test_temporary_failures_retry_with_backoff_then_fail(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = make_settings(settings, sink, outreach_max_attempts=3, outreach_retry_backoff_seconds=600)
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)
    sink.fail_next(Fault.TEMP_450)
    first = send(engine, st)
    assert first.retried == 1 and "450" in first.errors[0].reason and first.sent_today == 0
    r = row(engine, row_id)
    assert r.status == MessageStatus.QUEUED and r.attempts == 1
    assert r.next_attempt_at == MONDAY_NOON + timedelta(seconds=600)
    assert send(engine, st, now=MONDAY_NOON + timedelta(seconds=599)).sent == 0  # not due yet
    sink.fail_next(Fault.TEMP_450)
    assert send(engine, st, now=MONDAY_NOON + timedelta(seconds=600)).retried == 1
    assert row(engine, row_id).next_attempt_at == MONDAY_NOON + timedelta(seconds=600 + 1200)
    sink.fail_next(Fault.TEMP_421)
    last = send(engine, st, now=MONDAY_NOON + timedelta(hours=1))
    assert last.failed == 1
    r = row(engine, row_id)
    assert (
        r.status == MessageStatus.FAILED
        and r.attempts == 3
        and "gave up after 3 attempts" in (r.last_error or "")
    )
    assert sink.count == 0


def test_temporary_failure_then_success(engine: Engine, settings: Settings, sink: SmtpSink) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)
    sink.fail_next(Fault.TEMP_421)
    send(engine, st)
    assert send(engine, st, now=MONDAY_NOON + timedelta(hours=1)).sent == 1
    r = row(engine, row_id)
    assert r.status == MessageStatus.SENT and r.attempts == 2 and r.last_error is None and sink.count == 1


@pytest.mark.parametrize(("fault", "suppressed"), [(Fault.USER_UNKNOWN, True), (Fault.PERM_550, False)])
def test_permanent_failures(
    engine: Engine, settings: Settings, sink: SmtpSink, fault: Fault, suppressed: bool
) -> None:
    st = make_settings(settings, sink)
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)
    sink.fail_recipient("director@clinic0.ru", fault)
    result = send(engine, st)
    assert result.failed == 1 and result.suppressed == int(suppressed)
    r = row(engine, row_id)
    assert r.status == MessageStatus.FAILED and r.last_error and "550" in r.last_error
    with write_scope(engine) as s:
        listed = s.scalar(select(OptOut).where(OptOut.value == "director@clinic0.ru"))
    assert (listed is not None) is suppressed
    if listed is not None:
        assert listed.kind == OptOutKind.EMAIL and listed.source == "bounce"


def test_fallback_route_on_connection_failure(engine: Engine, settings: Settings, sink: SmtpSink) -> None:
    dead = SmtpSink()  # never started: its port refuses connections
    st = make_settings(settings, sink, smtp_yandex_port=dead.port, smtp_yandex_security="none")
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)
    assert send(engine, st).sent == 1
    r = row(engine, row_id)
    assert r.route == "gmail" and r.meta["route_fallback_from"] == "yandex"
    assert "unavailable" in r.meta["route_errors"][0]


def test_every_route_down_releases_the_message_untouched_and_stops(
    engine: Engine, settings: Settings
) -> None:
    dead = SmtpSink()
    st = make_settings(
        settings,
        smtp_yandex_host="127.0.0.1",
        smtp_yandex_port=dead.port,
        smtp_yandex_security="none",
        smtp_gmail_host="127.0.0.1",
        smtp_gmail_port=dead.port,
        smtp_gmail_security="none",
    )
    with write_scope(engine) as s:
        ids = queued_messages(s, 3)
    before = row(engine, ids[0])
    for _run in range(4):  # a route outage never spends an attempt, however many runs meet it
        result = send(engine, st)
        assert result.sent == result.retried == result.failed == 0
        assert result.stopped_reason and f"route yandex unavailable: cannot use 127.0.0.1:{dead.port}" in (
            result.stopped_reason
        )
        assert "(check SMTP_YANDEX_HOST, SMTP_YANDEX_PORT" in result.stopped_reason
        assert len(result.routes_down) == 2 and "route gmail unavailable" in result.routes_down[0]
    after = row(engine, ids[0])
    assert after.status == MessageStatus.QUEUED and after.attempts == before.attempts == 0
    assert (after.route, after.last_error, after.sending_started_at) == (None, None, None)
    assert row(engine, ids[1]).attempts == 0


@pytest.mark.parametrize(
    ("now", "expected_next"),
    [
        (datetime(2026, 11, 28, 9, 0, tzinfo=UTC), "2026-11-30T06:00:00+00:00"),  # Saturday
        (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "2026-11-24T06:00:00+00:00"),  # Monday 18:30 MSK
        (datetime(2026, 11, 23, 5, 59, tzinfo=UTC), "2026-11-23T06:00:00+00:00"),  # Monday 08:59 MSK
    ],
)
def test_nothing_is_sent_outside_the_window(
    engine: Engine, settings: Settings, now: datetime, expected_next: str
) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        queued_messages(s, 1)
    mailer = RecordingMailer()
    result = send(engine, st, now=now, mailer_factory=lambda r: mailer)
    assert not result.window_open and result.next_window_start == expected_next and mailer.sent == []


def test_jittered_spacing_through_the_injected_sleep(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_spacing_seconds=30, outreach_spacing_jitter_seconds=15)
    with write_scope(engine) as s:
        ids = queued_messages(s, 4)
    clock = ManualClock(MONDAY_NOON)
    mailer = RecordingMailer()
    result = send(
        engine, st, now=clock, sleep=clock.sleep, rng=random.Random(7), mailer_factory=lambda r: mailer
    )
    assert result.sent == 4 and len(clock.sleeps) == 3
    assert all(30 <= s <= 45 for s in clock.sleeps) and len(set(clock.sleeps)) == 3
    sent_at = [row(engine, i).sent_at for i in ids]
    assert sent_at == sorted(sent_at) and sent_at[-1] == MONDAY_NOON + timedelta(seconds=sum(clock.sleeps))


def test_window_closing_mid_run_stops(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_spacing_seconds=600, outreach_spacing_jitter_seconds=0)
    with write_scope(engine) as s:
        queued_messages(s, 5)
    clock = ManualClock(datetime(2026, 11, 23, 14, 40, tzinfo=UTC))  # 17:40 MSK
    result = send(engine, st, now=clock, sleep=clock.sleep, mailer_factory=lambda r: RecordingMailer())
    assert (
        result.sent == 3 and result.stopped_reason == "send window closed"
    )  # 17:40, 17:50, 18:00 (inclusive)
    assert result.next_window_start == "2026-11-24T06:00:00+00:00"


def test_dry_run_writes_eml_and_changes_nothing(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        queued_messages(s, 3)
        add_opt_out(s, "clinic2.ru", kind=OptOutKind.DOMAIN)
    before = statuses(engine)
    st.outreach_dry_run_dir.mkdir(parents=True)  # outputs never create their folder
    result = send(engine, st, dry_run=True)
    assert result.dry_run and len(result.files) == 2 and result.skipped == 1
    assert statuses(engine) == before
    content = Path(result.files[0]).read_bytes()
    assert b"List-Unsubscribe:" in content and b"X-Leadgen-Route: yandex" in content


def test_queue_skips_bad_recipients_and_failing_drafts(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("info@clinic1.ru",))
        add_company(s, "gone.ru", emails=("info@gone.ru",))
        add_company(s, "clinic2.ru", emails=("info@clinic2.ru",))
    draft_messages(engine, st, limit=10, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER)
    with write_scope(engine) as s:
        broken = s.scalar(select(OutreachMessage).where(OutreachMessage.to_email == "info@clinic2.ru"))
        assert broken is not None
        broken.body = (broken.body or "") + "\nСкидка! Звоните 8 800 555 35 35"
    report = queue_messages(engine, st, limit=10, now=MONDAY_NOON, resolver=StaticMxResolver(MX), offer=OFFER)
    assert (report.queued, report.skipped) == (1, 2)
    reasons = sorted(e.reason for e in report.errors)
    assert reasons[0].startswith("draft fails guardrails: phone not in the offer")
    assert reasons[1] == "no MX for gone.ru (nxdomain)"


def test_bad_from_address_stops_before_claiming(engine: Engine, settings: Settings) -> None:
    from leadgen.errors import ConfigurationError

    st = make_settings(settings, smtp_gmail_from="robot at dentaplan")
    with write_scope(engine) as s:
        (row_id,) = queued_messages(s, 1)
    with pytest.raises(ConfigurationError, match="SMTP_GMAIL_FROM"):
        send(engine, st, mailer_factory=lambda r: RecordingMailer())
    assert row(engine, row_id).status == MessageStatus.QUEUED and row(engine, row_id).attempts == 0


def test_connection_lost_after_data_ends_unknown_and_is_never_resent(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = make_settings(settings, sink, outreach_daily_cap=2)
    with write_scope(engine) as s:
        first, second, third = queued_messages(s, 3)
    sink.fail_next(Fault.DISCONNECT)
    report = send(engine, st)
    assert (report.unknown, report.sent, report.retried, report.sent_today) == (1, 1, 0, 2)
    assert report.cap_reached  # the row in doubt counts against the cap
    r = row(engine, first)
    assert r.status == MessageStatus.UNKNOWN and r.route == "yandex" and r.next_attempt_at is None
    assert "after the message was sent" in (r.last_error or "")
    later = send(engine, st, now=MONDAY_NOON + timedelta(days=1))
    assert later.sent == 1 and row(engine, first).status == MessageStatus.UNKNOWN
    assert [m.message_id for m in sink.messages] == [
        row(engine, second).message_id,
        row(engine, third).message_id,
    ]
