"""The sandbox loop end to end: send through the sink, the relay returns a DSN and a reply into a Maildir,
process_maildir classifies and applies them once (SQLite and Postgres)."""

from __future__ import annotations

import importlib.util
import mailbox
import smtplib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from leadgen.db.engine import write_scope
from leadgen.db.models import InboundMessage, MessageStatus, OptOut, OutreachMessage
from leadgen.mailbox.kinds import Classification, MailKind
from leadgen.mailbox.maildir import process_maildir, read_maildir
from leadgen.outreach.optout import opt_out_reason
from leadgen.settings import Settings
from leadgen_sandbox.farm_sites import is_dead_mailbox
from leadgen_sandbox.smtp_sink import Returns, SmtpSink
from tests.outreach.factories import add_company
from tests.sandbox.test_returns import outgoing

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HAS_CLASSIFIER = importlib.util.find_spec("leadgen.mailbox.classify") is not None


def structural_classify(raw: bytes) -> Classification:
    """Stands in for the classifier where only process_maildir is under test: a DSN's delivery-status part
    or an In-Reply-To header decides; anything else is `other`."""
    msg = message_from_bytes(raw, policy=policy.default)
    if msg.get_content_type() == "multipart/report":
        status = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
        recipient = status.get_payload()[1]
        returned = next(p for p in msg.walk() if p.get_content_type() == "message/rfc822").get_payload(0)
        return Classification(
            MailKind.HARD_BOUNCE,
            "dsn",
            (str(recipient["Final-Recipient"]).split(";")[1].strip().lower(),),
            str(recipient["Status"]),
            str(returned["Message-ID"]),
            inbound_message_id=str(msg["Message-ID"]),
        )
    if msg["In-Reply-To"]:
        ours = str(msg["In-Reply-To"])
        return Classification(
            MailKind.REPLY,
            "in-reply-to",
            message_id=ours,
            references=(ours,),
            sender=msg["From"].addresses[0].addr_spec,
            inbound_message_id=str(msg["Message-ID"]),
        )
    return Classification(MailKind.OTHER, "none")


def mail_and_return(engine: Engine, maildir: Path) -> tuple[int, int]:
    """Two companies mailed through the sandbox relay (one dead mailbox); returns (dead row, live row)."""
    with write_scope(engine) as s:
        rows = []
        for domain, local in (("ulybka-dent.ru", "buh"), ("zubnaya-feya.ru", "info")):
            company = add_company(s, domain, emails=(f"{local}@{domain}",))
            row = OutreachMessage(
                company_id=company.id,
                campaign="default",
                to_email=f"{local}@{domain}",
                status=MessageStatus.SENT,
            )
            s.add(row)
            s.flush()
            rows.append(row)
        messages = [outgoing(r.to_email or "") for r in rows]
        for row, message in zip(rows, messages, strict=True):
            row.message_id = str(message["Message-ID"])
            row.sent_at = NOW - timedelta(hours=1)
        ids = (rows[0].id, rows[1].id)
    returns = Returns(maildir, unknown_user=is_dead_mailbox, clock=lambda: NOW - timedelta(hours=1))
    with SmtpSink(returns=returns) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
            for message in messages:
                client.send_message(message)
        sink.deliver_returns()
    return ids


def check_loop(engine: Engine, dead_id: int, live_id: int, *, inbound: int = 2) -> None:
    with write_scope(engine) as s:
        dead = s.get(OutreachMessage, dead_id)
        live = s.get(OutreachMessage, live_id)
        assert dead is not None and live is not None
        assert (dead.status, live.status) == (MessageStatus.BOUNCED, MessageStatus.REPLIED)
        assert opt_out_reason(s, "buh@ulybka-dent.ru") == "opted out: email"
        assert s.scalar(select(func.count()).select_from(OptOut)) == 1
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == inbound


def test_process_maildir_applies_each_message_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    maildir = tmp_path / "maildir"
    dead_id, live_id = mail_and_return(engine, maildir)
    # A message without a Message-ID is recorded once too (by its Maildir key).
    mailbox.Maildir(maildir).add(b"From: robot@example.org\nSubject: hi\n\nno id\n")

    first = process_maildir(
        engine, maildir, route="gmail", settings=settings, now=NOW, classify=structural_classify
    )
    again = process_maildir(
        engine, maildir, route="gmail", settings=settings, now=NOW, classify=structural_classify
    )

    assert (first.read, first.recorded, again.read, again.recorded) == (3, 3, 3, 0)
    assert sorted(o.kind for o in first.outcomes) == [MailKind.HARD_BOUNCE, MailKind.OTHER, MailKind.REPLY]
    with write_scope(engine) as s:
        s.execute(select(InboundMessage).where(InboundMessage.kind == MailKind.OTHER)).scalar_one()
    check_loop(engine, dead_id, live_id, inbound=3)


@pytest.mark.skipif(
    not HAS_CLASSIFIER, reason="leadgen.mailbox.classify (branch i16-classify) is not merged yet"
)
def test_the_real_classifier_closes_the_sandbox_loop(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    maildir = tmp_path / "maildir"
    dead_id, live_id = mail_and_return(engine, maildir)
    assert len(list(read_maildir(maildir))) == 2

    result = process_maildir(engine, maildir, route="gmail", settings=settings, now=NOW)

    assert result.recorded == 2
    check_loop(engine, dead_id, live_id)
