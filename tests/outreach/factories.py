"""Factories for outreach tests: an offer, companies with contacts, queued messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadgen.db.models import Company, CompanyStatus, Contact, ContactKind, ContactSource
from leadgen.outreach.offer import OfferBrief, parse_offer

# Monday 2026-11-23 12:00 Moscow time: inside the default send window.
MONDAY_NOON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

OFFER_DATA: dict[str, Any] = {
    "offer": {
        "product": "CRM для стоматологических клиник «ДентаПлан»",
        "benefit": (
            "ДентаПлан напоминает пациентам о визитах по SMS и в мессенджерах, поэтому клиники теряют "
            "меньше записей и заполняют расписание без лишних звонков администратора."
        ),
        "call_to_action": "Если интересно, ответьте на это письмо — пришлю короткую демонстрацию.",
        "facts": ["Тариф для одной клиники — 4 900 ₽ в месяц."],
    },
    "sender": {
        "name": "Анна Смирнова",
        "title": "менеджер",
        "company": "ООО «ДентаПлан»",
        "email": "anna@dentaplan.example",
        "phone": "+7 495 123-45-67",
        "website": "https://dentaplan.example",
        "address": "123456, Москва, ул. Примерная, д. 1",
    },
    "unsubscribe": {"text": "Чтобы отписаться, ответьте словом «отписаться»."},
}


def make_offer(**overrides: Any) -> OfferBrief:
    data = {k: dict(v) for k, v in OFFER_DATA.items()}
    for key, value in overrides.items():
        table, _, field = key.partition("__")
        data[table][field] = value
    return parse_offer(data)


def add_company(
    session: Session,
    domain: str,
    *,
    name: str | None = None,
    emails: tuple[str, ...] = (),
    status: CompanyStatus = CompanyStatus.ENRICHED,
    niche: str = "стоматология",
    city: str = "Казань",
    site_text: str = "Стоматологическая клиника: лечение, имплантация, детская стоматология.",
    snippet: str = "Клиника семейной стоматологии в центре города.",
) -> Company:
    company = Company(
        name=name if name is not None else f"Клиника {domain.split('.')[0].title()}",
        canonical_domain=domain,
        website_url=f"https://{domain}/",
        status=status,
        niche=niche,
        city=city,
        site_text=site_text,
        snippet=snippet,
    )
    session.add(company)
    session.flush()
    for i, email in enumerate(emails):
        session.add(
            Contact(
                company_id=company.id,
                kind=ContactKind.EMAIL,
                value=email,
                source=ContactSource.MAILTO,
                quality_score=1.0 - i * 0.1,
                is_primary=i == 0,
                page_url=f"https://{domain}/kontakty",
            )
        )
    session.flush()
    return company


def queued_messages(
    session: Session,
    count: int,
    *,
    domain_fmt: str = "clinic{i}.ru",
    campaign: str = "default",
    start: int = 0,
) -> list[int]:
    """`count` companies with one contact and one queued message each; returns the message ids."""
    from leadgen.db.models import MessageStatus, OutreachMessage

    ids = []
    for i in range(start, start + count):
        domain = domain_fmt.format(i=i)
        company = add_company(session, domain, emails=(f"director@{domain}",))
        contact_id = session.scalar(select(Contact.id).where(Contact.company_id == company.id))
        message = OutreachMessage(
            contact_id=contact_id,
            company_id=company.id,
            campaign=campaign,
            to_email=f"director@{domain}",
            status=MessageStatus.QUEUED,
            subject=f"CRM для клиники {i}",
            body="Здравствуйте!\n\nТекст письма про пользу для клиники.",
            composer="fallback",
            queued_at=MONDAY_NOON,
        )
        session.add(message)
        session.flush()
        ids.append(message.id)
    return ids
