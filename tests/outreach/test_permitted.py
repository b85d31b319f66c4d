"""The send run under permits (SQLite and Postgres): a few permits per request, one spent per claimed message, none
past the cap, a permit timeout stops the run, unused permits go back, a crashed sender's by the next run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import read_scope, write_scope
from leadgen.db.models import OptOutKind, SendPermit
from leadgen.errors import RouteUnavailable
from leadgen.outreach import RecordingMailer, StaticMxResolver, sending
from leadgen.outreach.claims import claim_next
from leadgen.outreach.optout import add_opt_out
from leadgen.outreach.outcomes import SendReport
from leadgen.outreach.permit_pool import PermitPool, return_orphaned_permits
from leadgen.outreach.permits import NO_PERMIT, LocalPermits
from leadgen.outreach.sending import send_queued
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


def send(
    engine: Engine, settings: Settings, permits: object, mailer: RecordingMailer, **kw: object
) -> SendReport:
    """`send_queued` under `permits`, at Monday noon, every route on `mailer`."""
    sleeps: list[float] = []
    kw.setdefault("now", lambda: MONDAY_NOON)
    return send_queued(
        engine,
        settings,
        limit=10,
        permits=permits,  # type: ignore[arg-type]
        permit_timeout=7.0,
        sleep=sleeps.append,
        resolver=StaticMxResolver(MX),
        mailer_factory=lambda route: mailer,
        offer=OFFER,
        **kw,  # type: ignore[arg-type]
    )


def test_permits_come_a_batch_at_a_time_never_past_the_cap(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=3, prefect_email_burst=2)
    with write_scope(engine) as s:
        queued_messages(s, 5)
    permits, mailer = FakePermits(), RecordingMailer()
    report = send(engine, st, permits, mailer)
    assert permits.takes == [(3, 7.0)]  # one request for the three the cap leaves, none past it
    assert permits.given_back == []  # each permit carried its message
    assert (report.sent, report.cap_reached, report.due_left) == (3, True, 2)
    assert report.stopped_reason == "daily cap of 3 reached"
    assert len(mailer.sent) == 3


def test_no_permit_in_time_stops_the_run_before_any_claim(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=10, prefect_email_burst=3)
    with write_scope(engine) as s:
        queued_messages(s, 4)
    permits, mailer = FakePermits(0), RecordingMailer()
    report = send(engine, st, permits, mailer)
    assert permits.takes == [(4, 7.0)] and permits.given_back == []
    assert (report.sent, report.stopped_reason, report.due_left) == (0, NO_PERMIT, 4)
    assert statuses(engine) == {"queued": 4} and mailer.sent == []


def test_permits_a_batch_did_not_use_go_back(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings, outreach_daily_cap=10, prefect_email_burst=3)
    with write_scope(engine) as s:
        queued_messages(s, 4)
    mailer = RecordingMailer()
    mailer.fail["director@clinic1.ru"] = RouteUnavailable("route yandex: connection refused")
    permits = LocalPermits(capacity=5)
    report = send(engine, st, permits, mailer)
    # four taken for the four due; the second message finds its route and its fallback down: the run stops, and
    # the three permits no conversation used (its own and the two never claimed for) go back
    assert (report.sent, set(report.routes_down), report.due_left) == (
        1,
        {"route yandex: connection refused"},
        3,
    )
    assert (permits.taken, permits.returned, permits.free) == (4, 3, 4)


def test_a_closed_window_takes_no_permit(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        queued_messages(s, 2)
    permits, mailer = FakePermits(), RecordingMailer()
    report = send(engine, st, permits, mailer, now=lambda: MONDAY_NOON + timedelta(hours=12))
    assert permits.takes == [] and report.window_open is False
    assert report.stopped_reason == "outside the send window" and report.next_window_start


class CountingServer:
    """An aiosmtpd server on loopback that counts the SMTP connections (EHLOs) and the sessions that delivered."""

    def __init__(self) -> None:
        self.ehlos = 0
        self.sessions: list[object] = []  # one per connection that delivered a message
        self.delivered: list[str] = []

    async def handle_EHLO(
        self, server: object, session: Any, envelope: object, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname  # what aiosmtpd does itself when no hook is set
        return responses

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        if not any(known is session for known in self.sessions):
            self.sessions.append(session)
        self.delivered.extend(envelope.rcpt_tos)
        return "250 2.0.0 OK queued"


@pytest.fixture
def counting_smtp() -> Iterator[tuple[CountingServer, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = CountingServer()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    yield server, port
    controller.stop()


def test_one_recovery_and_one_smtp_connection_serve_every_message_under_permits(
    engine: Engine,
    settings: Settings,
    counting_smtp: tuple[CountingServer, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, port = counting_smtp
    routes = {
        f"smtp_{route}_{key}": value
        for route in ("yandex", "gmail")
        for key, value in (("host", "127.0.0.1"), ("port", port), ("security", "none"))
    }
    st = make_settings(settings, outreach_daily_cap=10, **routes)
    with write_scope(engine) as s:
        queued_messages(s, 4)
    recoveries: list[int] = []
    real_recover = sending.recover_sending

    def counted_recover(*args: Any, **kw: Any) -> Any:
        recoveries.append(1)
        return real_recover(*args, **kw)

    monkeypatch.setattr(sending, "recover_sending", counted_recover)
    permits = LocalPermits(capacity=3)
    report = send_queued(
        engine,
        st,
        limit=10,
        now=lambda: MONDAY_NOON,
        permits=permits,
        permit_timeout=1.0,
        sleep=lambda seconds: None,
        resolver=StaticMxResolver(MX),
        offer=OFFER,
    )
    assert (report.sent, report.stopped_reason, report.due_left) == (3, NO_PERMIT, 1)
    assert len(server.delivered) == 3 == len(set(server.delivered))
    assert (server.ehlos, len(server.sessions)) == (1, 1)  # one SMTP connection carried the three messages
    assert recoveries == [1]  # the recovery ran once for the run, not once per message
    assert (permits.taken, permits.returned, permits.free) == (3, 0, 0)


def test_a_row_opted_out_after_queueing_is_skipped_at_the_claim_and_its_permit_serves_the_next(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(settings, outreach_daily_cap=10)
    with write_scope(engine) as s:
        queued_messages(s, 3)
        add_opt_out(s, "director@clinic1.ru", kind=OptOutKind.EMAIL)  # checked inside the claim transaction
    permits, mailer = LocalPermits(capacity=5), RecordingMailer()
    report = send(engine, st, permits, mailer)
    assert (report.sent, report.skipped, report.due_left) == (2, 1, 0)
    assert [str(m["To"]) for m in mailer.sent] == ["director@clinic0.ru", "director@clinic2.ru"]
    # three taken for the three due; the skipped row's permit served the next message, the last one went back
    assert (permits.taken, permits.returned, permits.free) == (3, 1, 3)
    assert [(e.item, e.reason, e.outcome) for e in report.errors] == [
        ("message", "opted out: email", "skipped")
    ]


def held(engine: Engine) -> dict[str, int]:
    with read_scope(engine) as s:
        return {row.owner: row.held for row in s.scalars(select(SendPermit))}


def test_the_ledger_holds_what_the_run_holds_unused_and_each_claim_takes_one_off(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(settings, outreach_daily_cap=10)
    with write_scope(engine) as s:
        queued_messages(s, 3)
    permits = LocalPermits(capacity=10)
    pool = PermitPool(engine, permits, "flow-run=a pid=1", timeout=1.0)
    assert pool.ensure(3, now=MONDAY_NOON) and held(engine) == {"flow-run=a pid=1": 3}
    claim = claim_next(engine, st, now=MONDAY_NOON, message_domain="x.test", spend_permit_of=pool.owner)
    assert claim.item is not None and held(engine) == {"flow-run=a pid=1": 2}  # in the claim's transaction
    pool.spent()
    pool.close()
    assert held(engine) == {} and (permits.taken, permits.returned) == (3, 2)


def test_a_crashed_senders_unused_permits_are_returned_by_the_next_run(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(settings, outreach_daily_cap=10)
    with write_scope(engine) as s:
        queued_messages(s, 1)
        s.add_all(
            [
                SendPermit(owner="flow-run=dead pid=1", held=4),  # killed holding four it never used
                SendPermit(owner="flow-run=busy pid=2", held=2),  # still at work: its permits are its own
                SendPermit(owner="host=elsewhere pid=3", held=1),  # cannot be judged: left alone
            ]
        )
    permits = LocalPermits(capacity=10)
    alive = {"flow-run=dead pid=1": False, "flow-run=busy pid=2": True}
    report = send(engine, st, permits, RecordingMailer(), owner_alive=alive.get)
    assert report.sent == 1
    # the dead owner's four; this run took one, for its one due message, and used it
    assert (permits.taken, permits.returned) == (1, 4)
    assert held(engine) == {"flow-run=busy pid=2": 2, "host=elsewhere pid=3": 1}
    # A second run finds nothing more to return: the row was deleted before its permits went back.
    assert return_orphaned_permits(engine, permits, owner_alive=alive.get, me="me") == 0
