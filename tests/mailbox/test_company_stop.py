"""A company that replied gets no further mail: drafting, queueing and sending all pass it over (SQLite, Postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.mailbox.effects import apply_classification
from leadgen.mailbox.kinds import Classification, MailKind
from leadgen.outreach import StaticMxResolver, draft_messages, queue_messages, send_queued
from leadgen.outreach.composer import FallbackComposer
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer

OFFER = make_offer()
MX = {"clinic1.ru": ["mx.yandex.net"], "clinic2.ru": ["mx.yandex.net"]}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def campaign_settings(settings: Settings, sink: SmtpSink, campaign: str) -> Settings:
    env = {
        "outreach_campaign": campaign,
        "outreach_spacing_seconds": 0,
        "outreach_spacing_jitter_seconds": 0,
        **sink.settings_env("yandex"),
        **sink.settings_env("gmail"),
    }
    return Settings.model_validate(settings.model_dump() | env)


def _reply_to_autumn(engine: Engine, settings: Settings) -> int:
    """clinic1 answered the autumn message; returns clinic1's company id."""
    with write_scope(engine) as s:
        company = add_company(s, "clinic1.ru", emails=("info@clinic1.ru",))
        add_company(s, "clinic2.ru", emails=("info@clinic2.ru",))
        autumn = OutreachMessage(
            company_id=company.id,
            campaign="autumn",
            to_email="info@clinic1.ru",
            status=MessageStatus.SENT,
            sent_at=MONDAY_NOON,
            message_id="<leadgen.1.aaaaaaaaaaaaaaaaaaaaaaaa@dentaplan.example>",
        )
        s.add(autumn)
        s.flush()
        c = Classification(
            kind=MailKind.REPLY,
            reason="in-reply-to",
            message_id=autumn.message_id,
            references=(autumn.message_id or "",),
            sender="info@clinic1.ru",
            inbound_message_id="<reply-1@clinic1.ru>",
            excerpt="Спасибо, нам интересно. Позвоните завтра.",
        )
        apply_classification(
            s, c, mailbox="yandex", folder="INBOX", uidvalidity=1, uid=1, settings=settings, now=MONDAY_NOON
        )
        return company.id


def test_no_new_campaign_mail_reaches_a_company_that_replied(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    winter = campaign_settings(settings, sink, "winter")
    replied_company = _reply_to_autumn(engine, winter)

    report = draft_messages(
        engine, winter, limit=10, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER
    )
    assert report.considered == 1  # clinic2 only

    # Rows of the replied company that exist anyway (drafted by an older version, imported) are refused later.
    with write_scope(engine) as s:
        base = {"company_id": replied_company, "campaign": "winter", "to_email": "info@clinic1.ru"}
        s.add(OutreachMessage(**base, status=MessageStatus.DRAFTED, subject="Тема", body="Текст " * 60))
        s.add(
            OutreachMessage(
                **(base | {"campaign": "winter-2"}), status=MessageStatus.QUEUED, subject="Тема", body="x"
            )
        )
    queued = queue_messages(
        engine, winter, limit=10, now=MONDAY_NOON, resolver=StaticMxResolver(MX), offer=OFFER
    )
    assert [e.reason for e in queued.errors] == ["company replied"]
    sent = send_queued(engine, winter, limit=10, now=MONDAY_NOON, resolver=StaticMxResolver(MX), offer=OFFER)
    assert sent.sent == 1 and [m.rcpt_tos for m in sink.messages] == [("info@clinic2.ru",)]
    second = send_queued(
        engine,
        campaign_settings(settings, sink, "winter-2"),
        limit=10,
        now=MONDAY_NOON,
        resolver=StaticMxResolver(MX),
        offer=OFFER,
    )
    assert (second.sent, second.skipped) == (0, 1) and sink.count == 1
    with write_scope(engine) as s:
        reasons = s.scalars(
            select(OutreachMessage.last_error).where(
                OutreachMessage.company_id == replied_company, OutreachMessage.status == MessageStatus.SKIPPED
            )
        ).all()
    assert reasons == ["company replied", "company replied"]


def test_bounced_and_replied_messages_still_count_against_the_daily_cap(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    """A message sent today and bounced or answered today was still sent today: the cap does not grow back."""
    st = campaign_settings(settings, sink, "winter").model_copy(update={"outreach_daily_cap": 2})
    with write_scope(engine) as s:
        for n, domain in enumerate(("a-clinic.ru", "b-clinic.ru", "c-clinic.ru"), 1):
            company = add_company(s, domain, emails=(f"info@{domain}",))
            s.add(
                OutreachMessage(
                    company_id=company.id,
                    campaign="winter",
                    to_email=f"info@{domain}",
                    status=MessageStatus.QUEUED,
                    subject="Тема",
                    body="Текст",
                )
            )
    mx = StaticMxResolver({d: ["mx.yandex.net"] for d in ("a-clinic.ru", "b-clinic.ru", "c-clinic.ru")})
    first = send_queued(engine, st, limit=10, now=MONDAY_NOON, resolver=mx, offer=OFFER)
    assert (first.sent, first.cap_reached) == (2, True)
    with write_scope(engine) as s:
        sent = s.scalars(select(OutreachMessage).where(OutreachMessage.status == MessageStatus.SENT)).all()
        for row, kind in zip(sent, (MailKind.HARD_BOUNCE, MailKind.REPLY), strict=True):
            c = Classification(kind=kind, reason="test", message_id=row.message_id, sender=row.to_email,
                               recipients=(row.to_email or "",) if kind == MailKind.HARD_BOUNCE else ())  # fmt: skip
            apply_classification(
                s,
                c,
                mailbox="yandex",
                folder="INBOX",
                uidvalidity=1,
                uid=row.id,
                settings=st,
                now=MONDAY_NOON,
            )
    later = send_queued(engine, st, limit=10, now=MONDAY_NOON + timedelta(hours=2), resolver=mx, offer=OFFER)
    assert (later.sent, later.cap_reached, later.sent_today) == (0, True, 2) and sink.count == 2
