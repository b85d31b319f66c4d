"""The send run under permits (SQLite and Postgres): one permit per message, taken right before it, none taken
when nothing can go, a permit timeout stops the run, unused permits go back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from leadgen.db.engine import session_scope
from leadgen.errors import RouteUnavailable
from leadgen.outreach import RecordingMailer, StaticMxResolver
from leadgen.outreach.permits import LocalPermits
from leadgen.outreach.permitted import NO_PERMIT, BatchSender, send_with_permits
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, queued_messages
from tests.outreach.test_outbox import MX, OFFER, make_settings, statuses


class FakePermits:
    """Grants what `grants` says, in turn (then what is asked); records every take and give-back."""

    def __init__(self, *grants: int) -> None:
        self.grants = list(grants)
        self.takes: list[tuple[int, float]] = []
        self.given_back: list[int] = []

    def take(self, wanted: int, timeout: float) -> int:
        self.takes.append((wanted, timeout))
        return self.grants.pop(0) if self.grants else wanted

    def give_back(self, count: int) -> None:
        self.given_back.append(count)


def sender(
    engine: Engine, settings: Settings, permits: object, mailer: RecordingMailer, **kw: object
) -> BatchSender:
    sleeps: list[float] = []
    return BatchSender(
        engine,
        settings,
        permits,  # type: ignore[arg-type]
        clock=lambda: MONDAY_NOON,
        sleep=sleeps.append,
        permit_timeout=7.0,
        resolver=StaticMxResolver(MX),
        mailer_factory=lambda route: mailer,
        offer=OFFER,
        **kw,  # type: ignore[arg-type]
    )


def test_one_permit_per_message_and_none_once_the_cap_is_used(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=3, prefect_email_burst=2)
    with session_scope(engine) as s:
        queued_messages(s, 5)
    permits, mailer = FakePermits(), RecordingMailer()
    report = send_with_permits(sender(engine, st, permits, mailer), limit=10)
    assert permits.takes == [(1, 7.0)] * 3  # one per message, never a batch in advance; none past the cap
    assert permits.given_back == [0, 0, 0]
    assert (report.sent, report.cap_reached, report.due_left) == (3, True, 2)
    assert report.stopped_reason == "daily cap of 3 reached"
    assert len(mailer.sent) == 3


def test_no_permit_in_time_stops_the_run_before_any_claim(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=10, prefect_email_burst=3)
    with session_scope(engine) as s:
        queued_messages(s, 4)
    permits, mailer = FakePermits(0), RecordingMailer()
    report = send_with_permits(sender(engine, st, permits, mailer), limit=10)
    assert permits.takes == [(1, 7.0)] and permits.given_back == []
    assert (report.sent, report.stopped_reason, report.due_left) == (0, NO_PERMIT, 4)
    assert statuses(engine) == {"queued": 4} and mailer.sent == []


def test_permits_a_batch_did_not_use_go_back(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=10, prefect_email_burst=3)
    with session_scope(engine) as s:
        queued_messages(s, 4)
    mailer = RecordingMailer()
    mailer.fail["director@clinic1.ru"] = RouteUnavailable("route yandex: connection refused")
    permits = LocalPermits(capacity=5)
    report = send_with_permits(sender(engine, st, permits, mailer), limit=10)
    # the second message finds its route and its fallback down: the run stops, its permit goes back
    assert (report.sent, set(report.routes_down), report.due_left) == (
        1,
        {"route yandex: connection refused"},
        3,
    )
    assert (permits.taken, permits.returned, permits.free) == (2, 1, 4)


def test_a_closed_window_takes_no_permit(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with session_scope(engine) as s:
        queued_messages(s, 2)
    permits, mailer = FakePermits(), RecordingMailer()
    run = sender(engine, st, permits, mailer)
    night = BatchSender(**{**run.__dict__, "clock": lambda: MONDAY_NOON + timedelta(hours=12)})
    report = send_with_permits(night, limit=10)
    assert permits.takes == [] and report.window_open is False
    assert report.stopped_reason == "outside the send window" and report.next_window_start
