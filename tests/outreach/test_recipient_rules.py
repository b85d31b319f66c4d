"""Never the wrong recipient (SQLite and Postgres): third-party and disposable addresses, domain and company
opt-outs covering every contact of the company, one message per address per campaign."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from leadgen.contacts.extract import Contact as FoundContact
from leadgen.contacts.store import choose_primary, upsert_contacts
from leadgen.contacts.thirdparty import third_party_category, third_party_reason
from leadgen.db.engine import write_scope
from leadgen.db.models import Company, Contact, MessageStatus, OptOutKind, OutreachMessage
from leadgen.outreach import RecordingMailer, StaticMxResolver, draft_messages, queue_messages
from leadgen.outreach.composer import FallbackComposer
from leadgen.outreach.drafting import ADDRESS_TAKEN
from leadgen.outreach.optout import add_opt_out, classify_value, opt_out_reason
from leadgen.outreach.recipients import check_recipient, is_disposable
from leadgen.settings import Settings
from tests.outreach.factories import MONDAY_NOON, add_company, make_offer
from tests.outreach.test_outbox import make_settings, send

OFFER = make_offer()
MX = StaticMxResolver(
    {
        "clinic1.ru": ["mx.yandex.net"],
        "clinic2.ru": ["mx.yandex.net"],
        "clinic3.ru": ["mx.yandex.net"],
        "mail.ru": ["mxs.mail.ru"],
        "yandex.ru": ["mx.yandex.ru"],
        "gmail.com": ["gmail-smtp-in.l.google.com"],
        "tilda.cc": ["mx.yandex.net"],
        "mailinator.com": ["mail.mailinator.com"],
        "xn----7sbbam0aerfiubcb3bqd5qyb.xn--p1ai": ["mx.yandex.net"],  # стоматология-казань.рф
        "xn--80aswg.xn--p1ai": ["mx.yandex.net"],  # сайт.рф
    }
)


def draft(engine: Engine, st: Settings):  # type: ignore[no-untyped-def]
    return draft_messages(engine, st, limit=50, now=MONDAY_NOON, composer=FallbackComposer(), offer=OFFER)


def queue(engine: Engine, st: Settings):  # type: ignore[no-untyped-def]
    return queue_messages(engine, st, limit=50, now=MONDAY_NOON, resolver=MX, offer=OFFER)


def messages(engine: Engine) -> dict[str, OutreachMessage]:
    """Messages by company domain (one per company in these tests)."""
    with write_scope(engine) as s:
        rows = s.execute(
            select(Company.canonical_domain, OutreachMessage).join(
                OutreachMessage, OutreachMessage.company_id == Company.id
            )
        ).all()
    return {domain: message for domain, message in rows}


def flag(engine: Engine, email: str, **meta: object) -> None:
    with write_scope(engine) as s:
        s.execute(update(Contact).where(Contact.value == email).values(meta=meta))


# --- third-party addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "company", "category"),
    [
        ("support@tilda.cc", "clinic1.ru", "site builder"),
        ("help@mail.nethouse.ru", "clinic1.ru", "site builder"),
        ("info@1c-bitrix.ru", "clinic1.ru", "cms vendor"),
        ("abuse@beget.com", "clinic1.ru", "hosting"),
        ("info@reg.ru", "reg.ru", None),  # the registrar's own site: its own address
        ("clinic1@mail.ru", "clinic1.ru", None),  # free mail on the company's site is the company's
        ("dent.kazan@yandex.ru", "clinic1.ru", None),
        ("clinic1.kazan@gmail.com", "clinic1.ru", None),
        ("info@partner-clinic.ru", "clinic1.ru", None),  # unknown other domains are not presumed third-party
    ],
)
def test_third_party_category(email: str, company: str, category: str | None) -> None:
    assert third_party_category(email, company_domain=company) == category


def test_third_party_reason_reads_the_stored_flags() -> None:
    studio = third_party_reason(
        "hello@webstudio-pro.ru", company_domain="clinic1.ru", contact_meta={"web_studio": True}
    )
    assert studio == "third-party address: web studio credit on the site"
    stored = third_party_reason(
        "x@agency.ru", company_domain="clinic1.ru", contact_meta={"third_party": "hosting"}
    )
    assert stored == "third-party address: hosting (agency.ru)"
    assert third_party_reason("info@clinic1.ru", company_domain="clinic1.ru", contact_meta={}) is None


def test_store_flags_site_builder_addresses_and_never_makes_them_primary(engine: Engine) -> None:
    page = "https://clinic1.ru/kontakty"
    found = [
        FoundContact("email", "support@tilda.cc", "mailto", 1.0, page, same_site=False),
        FoundContact(
            "email", "studio@webstudio-pro.ru", "mailto", 0.3, page, web_studio=True, same_site=False
        ),
        FoundContact("email", "clinic1@mail.ru", "text", 0.8, page, same_site=False),
        FoundContact("email", "info@clinic1.ru", "text", 0.6, page, same_site=True),
    ]
    with write_scope(engine) as s:
        company = add_company(s, "clinic1.ru")
        upsert_contacts(s, company.id, found, now=MONDAY_NOON)
        chosen = choose_primary(s, company.id)
        stored = {c.value: dict(c.meta or {}) for c in s.scalars(select(Contact))}
        primary = s.get(Contact, chosen["email"])
        assert primary is not None and primary.value == "info@clinic1.ru"  # by OUTREACH_RECIPIENT_PREFERENCE
    assert stored["support@tilda.cc"] == {"third_party": "site builder", "same_site": False}
    assert stored["studio@webstudio-pro.ru"]["web_studio"] is True
    assert "third_party" not in stored["clinic1@mail.ru"]
    # A later crawl that does not see the credit keeps the flag (metadata is merged).
    with write_scope(engine) as s:
        again = [FoundContact("email", "studio@webstudio-pro.ru", "mailto", 1.0, page, same_site=False)]
        upsert_contacts(s, company.id, again, now=MONDAY_NOON)
        meta = s.scalar(select(Contact.meta).where(Contact.value == "studio@webstudio-pro.ru"))
    assert meta["web_studio"] is True


def test_third_party_contacts_are_never_drafted_for(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("studio@webstudio-pro.ru", "clinic1@mail.ru"))
        add_company(s, "clinic2.ru", emails=("support@tilda.cc",))
        add_company(s, "clinic3.ru", emails=("hello@digital-kit.ru",))
    flag(engine, "studio@webstudio-pro.ru", web_studio=True)
    flag(engine, "hello@digital-kit.ru", web_studio=True)
    report = draft(engine, st)
    assert (report.drafted, report.skipped) == (1, 2)
    rows = messages(engine)
    assert (
        rows["clinic1.ru"].to_email == "clinic1@mail.ru"
        and rows["clinic1.ru"].status == MessageStatus.DRAFTED
    )
    assert rows["clinic2.ru"].status == MessageStatus.SKIPPED
    assert rows["clinic2.ru"].last_error == "third-party address: site builder (tilda.cc)"
    assert rows["clinic3.ru"].last_error == "third-party address: web studio credit on the site"
    assert draft(engine, st).considered == 0  # decisions are recorded: nothing comes back


def test_a_queued_row_for_a_third_party_contact_is_skipped_with_a_reason(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("info@clinic1.ru",))
        add_company(s, "clinic2.ru", emails=("office@clinic2.ru",))
        add_company(s, "clinic3.ru", emails=("support@tilda.cc",))
    draft(engine, st)
    # Drafted before the flag was known (an older crawl): the queue and the claim check again.
    flag(engine, "info@clinic1.ru", web_studio=True)
    with write_scope(engine) as s:  # a row drafted by an older version for the site builder's address
        company = s.scalar(select(Company).where(Company.canonical_domain == "clinic3.ru"))
        s.execute(
            update(OutreachMessage)
            .where(OutreachMessage.company_id == company.id)  # type: ignore[union-attr]
            .values(status=MessageStatus.QUEUED, last_error=None, subject="Тема", body="Текст")
        )
    report = queue(engine, st)
    assert report.errors[0].reason == "third-party address: web studio credit on the site"
    assert (report.queued, report.skipped) == (1, 1)
    flag(engine, "office@clinic2.ru", web_studio=True)  # flagged between queueing and sending
    mailer = RecordingMailer()
    result = send(engine, st, mailer_factory=lambda route: mailer, resolver=MX)
    assert (result.sent, result.skipped) == (0, 2) and mailer.sent == []
    rows = messages(engine)
    assert rows["clinic2.ru"].status == MessageStatus.SKIPPED and rows["clinic2.ru"].attempts == 0
    assert rows["clinic2.ru"].last_error == "third-party address: web studio credit on the site"
    assert rows["clinic3.ru"].last_error == "third-party address: site builder (tilda.cc)"


# --- disposable addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "disposable"),
    [
        ("test@mailinator.com", True),
        ("x@10minutemail.com", True),
        ("x@guerrillamail.com", True),
        ("x@yopmail.com", True),
        ("info@mail.ru", False),
        ("info@yandex.ru", False),
        ("info@gmail.com", False),
        ("info@clinic1.ru", False),
    ],
)
def test_disposable_domains_come_from_the_maintained_list(email: str, disposable: bool) -> None:
    assert is_disposable(email) is disposable
    assert (check_recipient(email).reason == "disposable address") is disposable


def test_disposable_addresses_are_skipped_at_queue_time(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("info@clinic1.ru",))
        add_company(s, "clinic2.ru", emails=("clinic2@mailinator.com",))
    report = draft(engine, st)
    assert (report.drafted, report.skipped) == (1, 1)
    assert messages(engine)["clinic2.ru"].last_error == "disposable address"
    # A draft stored by an older version, before the check existed, is skipped when queued.
    with write_scope(engine) as s:
        row = s.scalar(select(OutreachMessage).where(OutreachMessage.to_email == "info@clinic1.ru"))
        assert row is not None
        row.to_email = "info@mailinator.com"
    report = queue(engine, st)
    assert (report.queued, report.skipped) == (0, 1) and report.errors[0].reason == "disposable address"


# --- domain and company opt-outs cover every contact of the company -----------------------------------------


def test_domain_opt_out_covers_free_mail_found_on_the_company_site(
    engine: Engine, settings: Settings
) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("clinic1@mail.ru",))
        add_company(s, "clinic2.ru", emails=("dent.clinic2@gmail.com",))
        add_company(s, "clinic3.ru", emails=("clinic3@yandex.ru",))
        add_opt_out(s, "clinic1.ru", kind=OptOutKind.DOMAIN)
    report = draft(engine, st)
    assert (report.drafted, report.skipped) == (2, 1)
    assert messages(engine)["clinic1.ru"].last_error == "opted out: company domain clinic1.ru"
    queue(engine, st)
    # Added between queueing and sending: checked again inside the claim transaction.
    with write_scope(engine) as s:
        add_opt_out(s, "clinic2.ru", kind=OptOutKind.DOMAIN)
    mailer = RecordingMailer()
    result = send(engine, st, mailer_factory=lambda route: mailer, resolver=MX)
    assert (result.sent, result.skipped) == (1, 1)
    assert [m["To"] for m in mailer.sent] == ["clinic3@yandex.ru"]
    assert messages(engine)["clinic2.ru"].last_error == "opted out: company domain clinic2.ru"


@pytest.mark.parametrize("stored_as", ["unicode", "punycode"])
def test_company_domain_opt_out_agrees_across_idn_forms(engine: Engine, stored_as: str) -> None:
    unicode_domain = "стоматология-казань.рф"
    # entered in either spelling, an opt-out is stored in the one canonical (Unicode) form; a row written before
    # that rule may still hold punycode, and it matches all the same
    assert classify_value(f"https://{unicode_domain.upper()}/") == (OptOutKind.DOMAIN, unicode_domain)
    assert classify_value("XN----7SBBAM0AERFIUBCB3BQD5QYB.XN--P1AI") == (OptOutKind.DOMAIN, unicode_domain)
    value = unicode_domain if stored_as == "unicode" else "xn----7sbbam0aerfiubcb3bqd5qyb.xn--p1ai"
    with write_scope(engine) as s:
        add_opt_out(s, value, kind=OptOutKind.DOMAIN)
    with write_scope(engine) as s:
        for company in (
            unicode_domain,
            "xn----7sbbam0aerfiubcb3bqd5qyb.xn--p1ai",
            "www.стоматология-казань.рф",
        ):
            reason = opt_out_reason(s, "stomat.kazan@mail.ru", company_domain=company)
            assert reason == f"opted out: company domain {value}", company
        assert (
            opt_out_reason(s, "info@xn----7sbbam0aerfiubcb3bqd5qyb.xn--p1ai") == f"opted out: domain {value}"
        )
        assert opt_out_reason(s, "info@стоматология-казань.рф") == f"opted out: domain {value}"
        assert opt_out_reason(s, "stomat.kazan@mail.ru", company_domain="сайт.рф") is None


def test_company_opt_out_suppresses_every_contact_at_send_time(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("clinic1@mail.ru",))
        add_company(s, "clinic2.ru", emails=("info@clinic2.ru",))
    draft(engine, st)
    queue(engine, st)
    with write_scope(engine) as s:
        s.execute(update(Company).where(Company.canonical_domain == "clinic1.ru").values(opt_out=True))
    mailer = RecordingMailer()
    result = send(engine, st, mailer_factory=lambda route: mailer, resolver=MX)
    assert (result.sent, result.skipped) == (1, 1)
    assert messages(engine)["clinic1.ru"].last_error == "opted out: company"


# --- one message per address per campaign -------------------------------------------------------------------


def test_two_companies_sharing_an_address_get_one_message(engine: Engine, settings: Settings) -> None:
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "clinic1.ru", emails=("zakaz@dentgroup.ru",))
        add_company(s, "clinic2.ru", emails=("Zakaz@DentGroup.ru",))  # same box, another spelling
        add_company(s, "clinic3.ru", emails=("zakaz@dentgroup.ru", "director@clinic3.ru"))
    report = draft(engine, st)
    assert (report.drafted, report.skipped) == (2, 1)
    rows = messages(engine)
    assert rows["clinic1.ru"].to_email == "zakaz@dentgroup.ru"
    assert (
        rows["clinic2.ru"].status == MessageStatus.SKIPPED and rows["clinic2.ru"].last_error == ADDRESS_TAKEN
    )
    assert rows["clinic3.ru"].to_email == "director@clinic3.ru"  # its other address is used instead
    # Another campaign may write to the shared address again, once.
    spring = st.model_copy(update={"outreach_campaign": "spring"})
    assert draft(engine, spring).drafted == 2


def test_the_database_refuses_a_second_live_message_to_an_address(engine: Engine) -> None:
    """The unique index decides, not a prior read: a concurrent drafter's insert does nothing."""
    from leadgen.outreach.drafting import _insert_message

    with write_scope(engine) as s:
        a = add_company(s, "clinic1.ru", emails=("zakaz@dentgroup.ru",))
        b = add_company(s, "clinic2.ru", emails=("ZAKAZ@dentgroup.ru",))
        ids = {c.company_id: c.id for c in s.scalars(select(Contact))}
    base = {"campaign": "default", "created_at": MONDAY_NOON, "updated_at": MONDAY_NOON, "meta": {}}
    with write_scope(engine) as s:
        first = base | {"company_id": a.id, "contact_id": ids[a.id], "to_email": "zakaz@dentgroup.ru"}
        second = base | {"company_id": b.id, "contact_id": ids[b.id], "to_email": "ZAKAZ@dentgroup.ru"}
        assert _insert_message(s, first | {"status": MessageStatus.DRAFTED})
        assert not _insert_message(s, second | {"status": MessageStatus.QUEUED})
        assert _insert_message(s, second | {"status": MessageStatus.SKIPPED, "last_error": ADDRESS_TAKEN})
    with pytest.raises(IntegrityError), write_scope(engine) as s:  # a plain insert cannot slip past it
        s.add(OutreachMessage(campaign="default", to_email="Zakaz@DentGroup.ru", status=MessageStatus.SENT))
        s.flush()


def test_queueing_a_legacy_draft_whose_normalised_address_is_taken_skips_it(
    engine: Engine, settings: Settings
) -> None:
    """A draft stored before the one form (`info@xn--80aswg.xn--p1ai`) meets the index only when queued (Unicode)."""
    st = make_settings(settings)
    with write_scope(engine) as s:
        add_company(s, "сайт.рф", emails=("info@сайт.рф",))
        legacy = add_company(s, "clinic1.ru", emails=("info@xn--80aswg.xn--p1ai",))
    draft(engine, st)
    with write_scope(engine) as s:
        stored = s.scalar(select(OutreachMessage).where(OutreachMessage.to_email == "info@сайт.рф"))
        assert stored is not None
        old = s.scalar(select(OutreachMessage).where(OutreachMessage.company_id == legacy.id))
        assert old is not None and old.last_error == ADDRESS_TAKEN  # the drafter already refused it
        old.status, old.to_email, old.last_error = MessageStatus.DRAFTED, "info@xn--80aswg.xn--p1ai", None
        old.subject, old.body = stored.subject, stored.body
        stored.status = MessageStatus.QUEUED  # queued already, holds the address
    report = queue(engine, st)
    assert (report.queued, report.skipped) == (0, 1) and report.errors[0].reason == ADDRESS_TAKEN


def test_concurrent_drafters_leave_one_live_message_per_address(engine: Engine, settings: Settings) -> None:
    import threading
    from collections import Counter

    st = make_settings(settings)
    with write_scope(engine) as s:
        for i in range(12):  # pairs of companies share one address: clinic0/clinic1 -> zakaz0@group.ru, ...
            add_company(s, f"clinic{i}.ru", emails=(f"zakaz{i // 2}@group.ru",))
    threads = [threading.Thread(target=draft, args=(engine, st)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with write_scope(engine) as s:
        rows = s.execute(
            select(OutreachMessage.to_email, OutreachMessage.status, OutreachMessage.company_id)
        ).all()
    live = Counter(email for email, status, _ in rows if status != MessageStatus.SKIPPED)
    assert live == {f"zakaz{i}@group.ru": 1 for i in range(6)}
    assert len({company for _, _, company in rows}) == 12  # every company has its decision recorded
