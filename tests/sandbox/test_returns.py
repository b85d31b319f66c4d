"""The sandbox relay: mail to a dead farm mailbox is accepted, then a Postfix RFC 3464 DSN arrives in the Maildir;
the first live recipient answers with In-Reply-To our Message-ID."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from leadgen.clock import ManualClock
from leadgen.mailbox.maildir import read_maildir
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen_sandbox.farm_sites import is_dead_mailbox
from leadgen_sandbox.smtp_sink import Returns, SmtpSink
from tests.outreach.factories import make_offer

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OFFER = make_offer()


def outgoing(to: str) -> EmailMessage:
    return build_message(
        subject="CRM для клиники «Улыбка»",
        body="Здравствуйте!\n\nДентаПлан напоминает пациентам о визитах.",
        to_email=to,
        from_address="anna@dentaplan.example",
        offer=OFFER,
        message_id=new_message_id("dentaplan.example"),
        unsubscribe=Unsubscribe(mailto="unsubscribe@dentaplan.example"),
        date=START,
    )


def send_through(sink: SmtpSink, *messages: EmailMessage) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        for message in messages:
            client.send_message(message)


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_dead_mailbox_gets_a_later_postfix_dsn_and_a_live_one_replies(tmp_path: Path) -> None:
    clock = ManualClock(START)
    maildir = tmp_path / "maildir"
    returns = Returns(maildir, unknown_user=is_dead_mailbox, clock=clock, delay=timedelta(minutes=4))
    dead, live, other = (
        outgoing("Buh@Ulybka-Dent.ru"),
        outgoing("info@ulybka-dent.ru"),
        outgoing("zakaz@x.ru"),
    )
    with SmtpSink(returns=returns) as sink:
        send_through(sink, dead, live, other)
        assert sink.count == 3  # the relay accepts mail for unknown users too
        assert list(read_maildir(maildir)) == []  # nothing comes back until the relay gets to it
        keys = sink.deliver_returns()
        assert sink.deliver_returns() == []  # owed returns are delivered once
    messages = [parse(raw) for _, raw in read_maildir(maildir)]
    assert len(keys) == 2 and len(messages) == 2
    dsn, reply = sorted(messages, key=lambda m: m.get_content_type() != "multipart/report")

    assert dsn.get_content_type() == "multipart/report" and dsn.get_param("report-type") == "delivery-status"
    assert str(dsn["From"]).startswith("MAILER-DAEMON@") and dsn["Auto-Submitted"] == "auto-replied"
    assert dsn["Subject"] == "Undelivered Mail Returned to Sender" and dsn["To"] == "anna@dentaplan.example"
    assert dsn["Date"].datetime == START + timedelta(minutes=4)
    notification, status, returned = dsn.iter_parts()
    assert "User unknown" in notification.get_content()
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; relay.sandbox.example"
    assert per_recipient["Final-Recipient"] == "rfc822; Buh@ulybka-dent.ru"  # domain normalised when sent
    assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "5.1.1")
    assert per_recipient["Diagnostic-Code"].startswith("smtp; 550 5.1.1")
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload(0)["Message-ID"] == dead["Message-ID"]

    assert reply["In-Reply-To"] == live["Message-ID"] and reply["References"] == live["Message-ID"]
    assert reply["From"].addresses[0].addr_spec == "info@ulybka-dent.ru"
    assert reply["To"].addresses[0].addr_spec == "anna@dentaplan.example"
    assert reply["Subject"] == "Re: CRM для клиники «Улыбка»" and "Auto-Submitted" not in reply
    text = reply.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Здравствуйте, Анна!") and "> ДентаПлан напоминает пациентам" in text


def test_without_returns_the_sink_writes_nothing(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        send_through(sink, outgoing("buh@ulybka-dent.ru"))
        assert sink.deliver_returns() == [] and sink.count == 1
    assert list(read_maildir(tmp_path / "absent")) == []
