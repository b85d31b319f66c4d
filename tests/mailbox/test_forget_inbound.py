"""`leadgen forget` reaches the loop's tables: the person's replies lose sender and text, bounces naming the
address are redacted, its bounce counters go (SQLite and Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.models import AddressBounce, InboundMessage
from leadgen.mailbox.effects import apply_classification
from leadgen.mailbox.kinds import Classification, MailKind
from leadgen.outreach.forget import REDACTED, forget
from leadgen.settings import Settings
from tests.outreach.factories import add_company

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_forget_scrubs_inbound_messages_and_bounce_counters(session: Session, settings: Settings) -> None:
    add_company(session, "petrov-dent.ru", emails=("i.petrov@petrov-dent.ru",))
    messages = [
        Classification(
            MailKind.REPLY, "sender", sender="I.Petrov@petrov-dent.ru", subject="Re: CRM",
            excerpt="Иван Петров, i.petrov@petrov-dent.ru, +7 903 000-00-00", inbound_message_id="<r1@petrov-dent.ru>",
        ),
        Classification(
            MailKind.SOFT_BOUNCE, "dsn", ("i.petrov@petrov-dent.ru",), "4.2.2",
            inbound_message_id="<b1@mx.example>", subject="Undelivered Mail: i.petrov@petrov-dent.ru",
        ),
        Classification(MailKind.AUTO_REPLY, "rfc3834", sender="office@other.ru", inbound_message_id="<a1@other.ru>"),
    ]  # fmt: skip
    for uid, c in enumerate(messages, 1):
        apply_classification(
            session, c, mailbox="gmail", folder="INBOX", uidvalidity=9, uid=uid, settings=settings, now=NOW
        )
    assert session.scalar(select(func.count()).select_from(AddressBounce)) == 1

    report = forget(session, "i.petrov@petrov-dent.ru", now=NOW)

    rows = {r.uid: r for r in session.scalars(select(InboundMessage))}
    assert (rows[1].sender, rows[1].subject, rows[1].excerpt) == (None, None, None)
    assert rows[1].kind == MailKind.REPLY  # the fact of a reply stays, without the person
    assert rows[2].recipients == [REDACTED] and rows[2].subject == f"Undelivered Mail: {REDACTED}"
    assert rows[3].sender == "office@other.ru"
    assert session.scalar(select(func.count()).select_from(AddressBounce)) == 0
    assert report.texts_redacted >= 2
