"""`forget`: the address disappears everywhere, only its hash stays, and it is never contacted again."""

from __future__ import annotations

from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import (
    Company,
    Contact,
    ContactKind,
    ContactSource,
    MessageStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    SerpResult,
)
from leadgen.outreach import draft_messages, email_hash, forget
from leadgen.outreach.composer import FallbackComposer
from leadgen.outreach.optout import add_opt_out
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer

EMAIL = "Ivan.Petrov@Clinic1.ru"


def test_forget_erases_and_suppresses(engine: Engine, settings: Settings) -> None:
    with write_scope(engine) as s:
        company = add_company(
            s,
            "clinic1.ru",
            emails=(EMAIL, "info@clinic1.ru"),
            site_text=f"Главный врач: Иван Петров, {EMAIL.lower()}, приём по записи.",
        )
        company.meta = {"emails_seen": [EMAIL, "info@clinic1.ru"], "note": {"by": EMAIL.lower()}}
        s.add(
            SerpResult(
                operation_id="op1",
                url="https://clinic1.ru/",
                domain="clinic1.ru",
                title="Клиника",
                snippet=f"Пишите: {EMAIL}",
                company_id=company.id,
            )
        )
        contact_id = s.scalar(select(Contact.id).where(Contact.value == EMAIL))
        s.add(
            OutreachMessage(
                contact_id=contact_id,
                company_id=company.id,
                campaign="old",
                to_email=EMAIL.lower(),
                status=MessageStatus.SENT,
                subject="Тема",
                body="Текст",
                meta={"mx": ["mx.yandex.net"], "route": "yandex"},
            )
        )
        add_opt_out(s, EMAIL.lower(), kind=OptOutKind.EMAIL, source="cli")
    with write_scope(engine) as s:
        report = forget(s, " ivan.petrov@clinic1.RU ", now=MONDAY_NOON)
    assert report.contacts_deleted == 1 and report.messages_scrubbed == 1 and report.texts_redacted == 3
    assert report.email_hash == email_hash(EMAIL)
    with write_scope(engine) as s:
        assert s.scalar(select(Contact).where(Contact.value == EMAIL)) is None
        message = s.scalar(select(OutreachMessage))
        assert message is not None and message.to_email is None and message.body is None
        assert message.status == MessageStatus.SENT and "forgotten_at" in message.meta
        assert "ivan" not in (s.scalar(select(SerpResult.snippet)) or "").lower()
        assert "ivan" not in (s.scalar(select(Company.site_text)) or "").lower()
        assert s.scalar(select(Company.meta)) == {
            "emails_seen": ["[удалено]", "info@clinic1.ru"],
            "note": {"by": "[удалено]"},
        }
        registry = s.execute(select(OptOut.kind, OptOut.value)).all()
        assert registry == [(OptOutKind.EMAIL_HASH, email_hash(EMAIL))]
        # Enrichment finds the address again later: it is never drafted.
        s.add(
            Contact(
                company_id=company.id,
                kind=ContactKind.EMAIL,
                value=EMAIL,
                source=ContactSource.MAILTO,
                quality_score=1.0,
                is_primary=True,
            )
        )
        s.execute(select(Contact.id))
    # Preference "other" alone ranks every mailbox alike, so the primary (the forgotten address) is picked.
    by_quality = settings.model_copy(update={"outreach_recipient_preference": "other"})
    report2 = draft_messages(
        engine, by_quality, limit=10, now=MONDAY_NOON, composer=FallbackComposer(), offer=make_offer()
    )
    assert report2.skipped == 1
    with write_scope(engine) as s:
        skipped = s.scalar(select(OutreachMessage).where(OutreachMessage.campaign == "default"))
        assert skipped is not None and skipped.status == MessageStatus.SKIPPED
        assert skipped.last_error == "opted out: forgotten address"


def test_forget_is_idempotent_and_rejects_garbage(engine: Engine) -> None:
    with write_scope(engine) as s:
        forget(s, "a@b.ru", now=MONDAY_NOON)
        again = forget(s, "A@B.RU", now=MONDAY_NOON)
        assert again.contacts_deleted == 0
        assert len(s.scalars(select(OptOut)).all()) == 1
    import pytest

    from leadgen.errors import OutreachError

    with write_scope(engine) as s, pytest.raises(OutreachError):
        forget(s, "not an email", now=MONDAY_NOON)


def test_forget_idn_address_in_both_forms(engine: Engine) -> None:
    with write_scope(engine) as s:
        add_company(
            s,
            "xn--80agpkdlcbvkd5n.xn--p1ai",
            emails=("Info@Стоматология.РФ",),
            site_text="Пишите: info@стоматология.рф или звоните.",
        )
    with write_scope(engine) as s:
        report = forget(s, "info@xn--80agpkdlcbvkd5n.xn--p1ai", now=MONDAY_NOON)
        assert report.contacts_deleted == 1 and report.texts_redacted == 1
        assert "стоматология.рф" not in (s.scalar(select(Company.site_text)) or "")
    with write_scope(engine) as s:
        from leadgen.outreach.optout import opt_out_reason

        assert opt_out_reason(s, "INFO@стоматология.рф") == "opted out: forgotten address"
