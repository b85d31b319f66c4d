"""Sending to internationalised addresses through the aiosmtpd sink: punycode domains for everyone, Unicode
local parts only through a server that announces SMTPUTF8, otherwise the row is skipped ("needs SMTPUTF8")."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_string, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.outreach import SmtpMailer, StaticMxResolver, draft_messages, queue_messages, send_queued
from leadgen.outreach.composer import FallbackComposer
from leadgen.outreach.idn import SmtpUtf8Unsupported, header_address, needs_smtputf8, smtp_address
from leadgen.settings import Settings, SmtpRoute
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer

OFFER = make_offer()
OKNA = "xn--80atjc.xn--p1ai"  # окна.рф
ZAVOD = "xn--80aaaywbhiionmfd6l.xn--p1ai"  # уралстальмонтаж.рф


@pytest.mark.parametrize(
    ("address", "wire", "needs"),
    [
        ("info@окна.рф", f"info@{OKNA}", False),
        ("info@ОКНА.РФ", f"info@{OKNA}", False),
        (f"info@{OKNA}", f"info@{OKNA}", False),
        ("продажи@окна.рф", f"продажи@{OKNA}", True),
        ("sales@firma.ru", "sales@firma.ru", False),
        ("info@техноагро.қаз", "info@xn--80age6afcnk2a.xn--80ao21a", False),
        ("müller@straße.de", "müller@xn--strae-oqa.de", True),  # IDNA 2008: ß is kept, not mapped to ss
    ],
)
def test_wire_form(address: str, wire: str, needs: bool) -> None:
    assert smtp_address(address) == wire
    assert needs_smtputf8([address]) is needs


def route(sink: SmtpSink) -> SmtpRoute:
    return SmtpRoute(
        name="yandex",
        host=sink.host,
        port=sink.port,
        security="none",
        username=None,
        password=None,
        from_address="robot@dentaplan.example",
        timeout=5.0,
    )


def message(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "robot@dentaplan.example"
    msg["To"] = header_address(to)
    msg["Subject"] = "Предложение"
    msg["Message-ID"] = f"<{abs(hash(to))}@dentaplan.example>"
    msg.set_content("Здравствуйте!", charset="utf-8")
    return msg


def test_unicode_local_part_goes_through_a_smtputf8_server() -> None:
    with SmtpSink(smtputf8=True) as sink:
        mailer = SmtpMailer(route(sink))
        mailer.send(message("продажи@окна.рф"))
        mailer.close()
        [got] = sink.messages
    assert got.rcpt_tos == (f"продажи@{OKNA}",)
    assert "SMTPUTF8" in got.mail_options
    headers = message_from_string(got.data.decode("utf-8"), policy=policy.default)  # RFC 6532 UTF-8 headers
    assert headers["To"].addresses[0].addr_spec == f"продажи@{OKNA}"


def test_unicode_local_part_is_refused_without_smtputf8_and_the_mailer_goes_on() -> None:
    with SmtpSink(smtputf8=False) as sink:
        mailer = SmtpMailer(route(sink))
        with pytest.raises(SmtpUtf8Unsupported, match="needs SMTPUTF8: route yandex"):
            mailer.send(message("продажи@окна.рф"))
        mailer.send(message("info@окна.рф"))  # ASCII local part, IDN domain: punycode, no SMTPUTF8 needed
        mailer.close()
        [got] = sink.messages
    assert got.rcpt_tos == (f"info@{OKNA}",)
    assert "SMTPUTF8" not in got.mail_options
    assert str(got.parsed()["To"]) == f"info@{OKNA}"
    assert got.data.split(b"\r\n\r\n", 1)[0].isascii()  # headers: no UTF-8 needed


@pytest.fixture
def companies(engine: Engine) -> Iterator[None]:
    with write_scope(engine) as s:
        add_company(s, "окна.рф", emails=("продажи@окна.рф",))
        add_company(
            s, "уралстальмонтаж.рф", emails=("zakaz@уралстальмонтаж.рф", "бухгалтерия@уралстальмонтаж.рф")
        )
    yield


def _settings(settings: Settings, sink: SmtpSink) -> Settings:
    env = {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0}
    env |= sink.settings_env("yandex") | sink.settings_env("gmail")  # type: ignore[arg-type]
    return Settings.model_validate(settings.model_dump() | env)


def _run(engine: Engine, settings: Settings) -> dict[str, tuple[str, str | None]]:
    mx = StaticMxResolver({OKNA: ["mx.yandex.net"], ZAVOD: ["mx.yandex.net"]})
    now = MONDAY_NOON
    draft_messages(engine, settings, limit=10, now=now, composer=FallbackComposer(), offer=OFFER)
    queue_messages(engine, settings, limit=10, now=now, resolver=mx, offer=OFFER)
    send_queued(engine, settings, limit=10, now=now, resolver=mx, offer=OFFER)
    with write_scope(engine) as s:
        rows = s.scalars(select(OutreachMessage).order_by(OutreachMessage.id)).all()
        return {r.to_email or "": (str(r.status), r.last_error) for r in rows}


def test_stage_skips_what_no_route_can_carry(engine: Engine, settings: Settings, companies: None) -> None:
    with SmtpSink(smtputf8=False) as sink:
        got = _run(engine, _settings(settings, sink))
        assert [m.rcpt_tos for m in sink.messages] == [(f"zakaz@{ZAVOD}",)]
    # rows keep the canonical (Unicode) address; only the SMTP envelope above spells the domain in punycode
    assert got == {
        "продажи@окна.рф": (str(MessageStatus.SKIPPED), "needs SMTPUTF8"),
        "zakaz@уралстальмонтаж.рф": (str(MessageStatus.SENT), None),
    }


def test_stage_sends_both_through_a_smtputf8_server(
    engine: Engine, settings: Settings, companies: None
) -> None:
    with SmtpSink(smtputf8=True) as sink:
        got = _run(engine, _settings(settings, sink))
        assert sorted(m.rcpt_tos for m in sink.messages) == [(f"zakaz@{ZAVOD}",), (f"продажи@{OKNA}",)]
    assert {status for status, _ in got.values()} == {str(MessageStatus.SENT)}


def test_mail_options_for_a_step_by_step_dialogue() -> None:
    from leadgen.outreach.idn import smtputf8_mail_options

    assert smtputf8_mail_options(["robot@dentaplan.example", "info@окна.рф"]) == []
    assert smtputf8_mail_options(["robot@dentaplan.example", "продажи@окна.рф"]) == [
        "SMTPUTF8",
        "BODY=8BITMIME",
    ]


def test_dry_run_writes_utf8_headers_for_a_unicode_local_part(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from leadgen.outreach.mailer import DryRunMailer

    mailer = DryRunMailer(tmp_path)
    mailer.send(message("продажи@окна.рф"))
    mailer.send(message("info@окна.рф"))
    first, second = (p.read_bytes() for p in mailer.written)
    assert f"To: продажи@{OKNA}\r\n".encode() in first
    assert f"To: info@{OKNA}\r\n".encode() in second and second.split(b"\r\n\r\n", 1)[0].isascii()
