"""SmtpMailer against the loopback sink: STARTTLS, implicit TLS, AUTH, and each injected fault."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from leadgen.errors import (
    OutputUnusable,
    RouteUnavailable,
    SmtpOutcomeUnknown,
    SmtpPermanentError,
    SmtpTemporaryError,
)
from leadgen.outreach.mailer import DryRunMailer, SmtpMailer
from leadgen.settings import SmtpRoute
from leadgen_sandbox.smtp_sink import Fault, SmtpSink, delivered_message_ids


def route(
    sink: SmtpSink, *, password: str = "secret", timeout: float = 5.0, data_timeout: float = 600.0, **kw: Any
) -> SmtpRoute:
    values: dict[str, Any] = {
        "name": "gmail",
        "host": sink.host,
        "port": sink.port,
        "security": sink.tls,
        "username": "robot",
        "password": SecretStr(password),
        "from_address": "robot@dentaplan.example",
    }
    return SmtpRoute(**(values | kw), timeout=timeout, data_timeout=data_timeout)


def message(to: str = "info@clinic.ru", n: int = 1) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Анна <anna@dentaplan.example>"
    msg["To"] = to
    msg["Subject"] = "Тема"
    msg["Message-ID"] = f"<leadgen.{n}@dentaplan.example>"
    msg.set_content("Здравствуйте!")
    return msg


@pytest.fixture(params=["starttls", "ssl"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    with SmtpSink(tls=request.param, auth=("robot", "secret")) as s:
        yield s


def test_delivers_over_tls_with_auth(sink: SmtpSink) -> None:
    mailer = SmtpMailer(route(sink), ssl_context=sink.client_context())
    mailer.send(message(n=1))
    mailer.send(message(n=2))
    mailer.close()
    assert sink.count == 2
    first = sink.messages[0]
    assert first.tls and first.auth_user == "robot"
    assert first.mail_from == "robot@dentaplan.example" and first.rcpt_tos == ("info@clinic.ru",)
    assert first.message_id == "<leadgen.1@dentaplan.example>"


def test_wrong_password_is_route_unavailable(sink: SmtpSink) -> None:
    with pytest.raises(RouteUnavailable, match="535"):
        SmtpMailer(route(sink, password="nope"), ssl_context=sink.client_context()).send(message())


def test_untrusted_certificate_is_route_unavailable(sink: SmtpSink) -> None:
    with pytest.raises(RouteUnavailable, match=r"certificate .* not trusted: .*\(check SMTP_CA_FILE\)"):
        SmtpMailer(route(sink)).send(message())  # system CAs do not trust the sink's self-signed cert


def test_closed_port_is_route_unavailable() -> None:
    sink = SmtpSink()  # never started: nothing listens on its port
    with pytest.raises(RouteUnavailable, match="unavailable"):
        SmtpMailer(route(sink)).send(message())


@pytest.mark.parametrize(
    ("fault", "error", "code", "user_unknown"),
    [
        (Fault.TEMP_421, SmtpTemporaryError, 421, False),
        (Fault.TEMP_450, SmtpTemporaryError, 450, False),
        (Fault.TEMP_452, SmtpTemporaryError, 452, False),
        (Fault.DISCONNECT, SmtpOutcomeUnknown, None, False),  # dropped after the content: in doubt
        (Fault.PERM_550, SmtpPermanentError, 550, False),
        (Fault.USER_UNKNOWN, SmtpPermanentError, 550, True),
    ],
)
def test_faults_map_to_errors_and_the_mailer_recovers(
    fault: Fault, error: type[Exception], code: int | None, user_unknown: bool
) -> None:
    with SmtpSink(tls="starttls", auth=("robot", "secret")) as sink:
        mailer = SmtpMailer(route(sink), ssl_context=sink.client_context())
        mailer.send(message(n=1))
        sink.fail_next(fault)
        with pytest.raises(error) as info:
            mailer.send(message(n=2))
        assert getattr(info.value, "code", None) == code
        if isinstance(info.value, SmtpPermanentError):
            assert info.value.user_unknown is user_unknown
        mailer.send(message(n=3))  # reconnects after the failure
        mailer.close()
        assert [m.message_id for m in sink.messages] == [
            "<leadgen.1@dentaplan.example>",
            "<leadgen.3@dentaplan.example>",
        ]


def test_recipient_specific_fault() -> None:
    with SmtpSink() as sink:
        sink.fail_recipient("gone@clinic.ru", Fault.USER_UNKNOWN)
        mailer = SmtpMailer(
            SmtpRoute(
                name="yandex",
                host=sink.host,
                port=sink.port,
                security="none",
                username=None,
                password=None,
                from_address=None,
                timeout=5.0,
            )
        )
        with pytest.raises(SmtpPermanentError, match=r"5\.1\.1"):
            mailer.send(message("gone@clinic.ru"))
        mailer.send(message("ok@clinic.ru"))
        mailer.close()
        assert sink.count == 1 and sink.messages[0].mail_from == "anna@dentaplan.example"


def test_dry_run_mailer_writes_eml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "outbox").mkdir()
    mailer = DryRunMailer(tmp_path / "outbox")
    mailer.send(message(n=7))
    (path,) = mailer.written
    assert path.name == "leadgen.7_dentaplan.example.eml"
    assert b"Message-ID: <leadgen.7@dentaplan.example>" in path.read_bytes()


def test_dry_run_mailer_never_creates_its_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OutputUnusable, match=r"OUTREACH_DRY_RUN_DIR .* create it first"):
        DryRunMailer(tmp_path / "missing" / "outbox")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [(Fault.USER_UNKNOWN, SmtpPermanentError, 550), (Fault.TEMP_450, SmtpTemporaryError, 450)],
)
def test_refusal_at_rcpt_stage(fault: Fault, error: type[Exception], code: int) -> None:
    with SmtpSink(tls="starttls", auth=("robot", "secret")) as sink:
        sink.fail_recipient("gone@clinic.ru", fault, at="rcpt")
        mailer = SmtpMailer(route(sink), ssl_context=sink.client_context())
        with pytest.raises(error, match="recipient refused") as info:
            mailer.send(message("gone@clinic.ru"))
        assert getattr(info.value, "code", None) == code
        mailer.send(message("ok@clinic.ru", n=2))
        mailer.close()
        assert sink.count == 1


@pytest.mark.parametrize(
    ("reply", "unknown"),
    [
        ("550-5.1.1 The email account that you tried to reach does not exist. Please try", True),
        ("550 5.7.1 No such user!", True),
        (
            "550 Message was not accepted -- invalid mailbox. Local mailbox x@mail.ru is unavailable: user not found",
            True,
        ),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", True),
        ("550 5.1.1 <x@rambler.ru>: Recipient address rejected: User unknown in local recipient table", True),
        ("550 5.7.1 Message rejected under suspicion of SPAM", False),
        ("554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org", False),
        ("552 5.2.2 Mailbox full", False),
    ],
)
def test_user_unknown_wordings(reply: str, unknown: bool) -> None:
    code = int(reply[:3])
    assert SmtpPermanentError(f"rejected: {reply}", code=code).user_unknown is unknown


def _plain_route(sink: SmtpSink, *, timeout: float = 5.0) -> SmtpRoute:
    return SmtpRoute(
        name="yandex",
        host=sink.host,
        port=sink.port,
        security="none",
        username=None,
        password=None,
        from_address=None,
        timeout=timeout,
        data_timeout=timeout,
    )


def test_disconnect_before_data_stays_temporary() -> None:
    with SmtpSink() as sink:
        sink.fail_recipient("flaky@clinic.ru", Fault.DISCONNECT, at="rcpt")
        mailer = SmtpMailer(_plain_route(sink))
        with pytest.raises(SmtpTemporaryError, match="before the message was sent"):
            mailer.send(message("flaky@clinic.ru"))
        mailer.send(message("ok@clinic.ru", n=2))  # reconnects
        mailer.close()
        assert [m.rcpt_tos for m in sink.messages] == [("ok@clinic.ru",)]


def test_disconnect_after_the_content_is_unknown_not_temporary() -> None:
    with SmtpSink() as sink:
        sink.fail_next(Fault.DISCONNECT)  # the sink reads the whole message, then drops the connection
        mailer = SmtpMailer(_plain_route(sink))
        with pytest.raises(SmtpOutcomeUnknown, match="after the message was sent") as info:
            mailer.send(message(n=1))
        assert not isinstance(info.value, SmtpTemporaryError)
        mailer.send(message(n=2))  # the mailer itself recovers for the next message
        mailer.close()
        assert [m.message_id for m in sink.messages] == ["<leadgen.2@dentaplan.example>"]


class _SilentAfterData:
    """An aiosmtpd handler that takes the whole message and then never answers (the client's timeout fires)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(bytes(envelope.content))
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        return "250 2.0.0 too late"


def test_timeout_waiting_for_the_final_reply_is_unknown() -> None:
    handler = _SilentAfterData()
    sink = SmtpSink()  # only for a free loopback port
    controller = Controller(handler, hostname=sink.host, port=sink.port, ready_timeout=10.0)
    controller.start()
    try:
        mailer = SmtpMailer(_plain_route(sink, timeout=0.5))
        with pytest.raises(SmtpOutcomeUnknown, match=r"timed out|TimeoutError"):
            mailer.send(message(n=9))
        mailer.close()
    finally:
        handler.release.set()
        controller.stop()
    assert len(handler.received) == 1 and b"<leadgen.9@dentaplan.example>" in handler.received[0]


def test_leading_dots_and_bare_newlines_are_transmitted_intact() -> None:
    with SmtpSink() as sink:
        msg = message(n=4)
        msg.set_content(".hidden line\nsecond\n..two dots\n")
        mailer = SmtpMailer(_plain_route(sink))
        mailer.send(msg)
        mailer.close()
        body = sink.messages[0].parsed().get_content()
    assert body.splitlines() == [".hidden line", "second", "..two dots"]


def test_starttls_not_offered_names_the_route_and_setting() -> None:
    with SmtpSink(tls="none") as sink:  # a server (or a proxy in the way) that does not offer STARTTLS
        mailer = SmtpMailer(route(sink, security="starttls", username=None))
        with pytest.raises(RouteUnavailable) as info:
            mailer.send(message())
        assert str(info.value) == (
            f"route gmail unavailable: STARTTLS not offered by 127.0.0.1:{sink.port} (check SMTP_GMAIL_SECURITY)"
        )
        assert sink.count == 0


def test_wrong_password_names_the_credentials_settings(sink: SmtpSink) -> None:
    with pytest.raises(RouteUnavailable, match=r"authentication refused .*535.*\(check SMTP_GMAIL_USERNAME, SMTP_GMAIL_PASSWORD\)$"):  # fmt: skip
        SmtpMailer(route(sink, password="nope"), ssl_context=sink.client_context()).send(message())


def test_before_data_runs_after_rcpt_and_its_failure_sends_nothing() -> None:
    with SmtpSink() as sink:
        mailer = SmtpMailer(route(sink, security="none", username=None))
        seen: list[int] = []
        mailer.send(message(n=1), before_data=lambda: seen.append(sink.count))
        assert seen == [0] and sink.count == 1

        class CheckpointFailed(Exception):
            pass

        def fail() -> None:
            raise CheckpointFailed

        with pytest.raises(CheckpointFailed):
            mailer.send(message(n=2), before_data=fail)
        sink.fail_recipient("gone@clinic.ru", Fault.USER_UNKNOWN, at="rcpt")
        with pytest.raises(SmtpPermanentError):  # refused at RCPT: the checkpoint is never reached
            mailer.send(message("gone@clinic.ru", n=3), before_data=lambda: seen.append(-1))
        mailer.send(message(n=4))
        mailer.close()
        assert seen == [0] and [m.message_id for m in sink.messages] == [
            "<leadgen.1@dentaplan.example>",
            "<leadgen.4@dentaplan.example>",
        ]


@pytest.mark.parametrize("fault", [Fault.ACCEPT_DISCONNECT, Fault.SLOW])
def test_server_keeps_the_message_but_the_reply_never_comes(fault: Fault, tmp_path: Path) -> None:
    with SmtpSink(maildir=tmp_path / "delivered", slow_seconds=3.0) as sink:
        mailer = SmtpMailer(route(sink, security="none", username=None, data_timeout=0.5))
        sink.fail_next(fault)
        with pytest.raises(SmtpOutcomeUnknown):
            mailer.send(message(n=1))
        mailer.close()
        assert sink.count == 1  # the server has it: a resend would deliver it twice
    assert delivered_message_ids(tmp_path / "delivered") == ["<leadgen.1@dentaplan.example>"]


def test_end_of_data_reply_has_its_own_timeout() -> None:
    """A server that takes longer than SMTP_TIMEOUT_SECONDS to accept the content is waited for."""
    with SmtpSink(reply_delay=1.0) as sink:
        mailer = SmtpMailer(route(sink, security="none", username=None, timeout=0.4, data_timeout=10.0))
        mailer.send(message(n=1))
        mailer.send(message(n=2))  # the command timeout is restored and the connection reused
        mailer.close()
        assert sink.count == 2


def test_a_connection_the_server_closed_while_idle_is_reopened_once() -> None:
    """Servers close idle connections (421 timeout, or silently): the next message reconnects, not fails."""
    with SmtpSink() as sink:
        mailer = SmtpMailer(route(sink, security="none", username=None))
        mailer.send(message(n=1))
        sink.drop_connections()
        mailer.send(message(n=2))
        mailer.close()
        assert [m.message_id for m in sink.messages] == [
            "<leadgen.1@dentaplan.example>",
            "<leadgen.2@dentaplan.example>",
        ]


def test_probe_tells_a_usable_route_from_a_misconfigured_one(sink: SmtpSink) -> None:
    assert SmtpMailer(route(sink), ssl_context=sink.client_context()).probe() is None
    problem = SmtpMailer(route(sink, password="nope"), ssl_context=sink.client_context()).probe()
    assert problem is not None and problem.startswith("route gmail unavailable: authentication refused")
    assert sink.count == 0
