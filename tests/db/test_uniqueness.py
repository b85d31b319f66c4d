"""Every uniqueness rule of the design is enforced by the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from leadgen.db import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    ContactSource,
    MessageStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    SerpQuery,
    SerpResult,
)


def _company(domain: str | None, dedupe_hash: str | None = None) -> Company:
    return Company(name=f"Co {domain}", canonical_domain=domain, dedupe_hash=dedupe_hash)


def _expect_conflict(session: Session, *rows: object) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add_all(rows)
        session.flush()


def test_query_hash_unique(session: Session) -> None:
    session.add(SerpQuery(query_text="окна пвх москва", region_code="213", query_hash="a" * 40))
    session.flush()
    _expect_conflict(session, SerpQuery(query_text="other", region_code="2", query_hash="a" * 40))


def test_serp_result_unique_per_operation_and_url(session: Session) -> None:
    session.add(SerpResult(operation_id="op1", url="https://a.ru/"))
    session.add(SerpResult(operation_id="op2", url="https://a.ru/"))  # other operation: fine
    session.flush()
    _expect_conflict(session, SerpResult(operation_id="op1", url="https://a.ru/"))


def test_company_canonical_domain_and_hash_unique(session: Session) -> None:
    session.add_all([_company("a.ru", "h1"), _company(None), _company(None)])  # many without a domain
    session.flush()
    _expect_conflict(session, _company("a.ru", "h2"))
    _expect_conflict(session, _company("b.ru", "h1"))


def test_contact_unique_case_insensitive_per_company_and_kind(session: Session) -> None:
    a, b = _company("a.ru"), _company("b.ru")
    session.add_all([a, b])
    session.flush()

    def contact(company: Company, value: str, kind: ContactKind = ContactKind.EMAIL) -> Contact:
        return Contact(company_id=company.id, kind=kind, value=value, source=ContactSource.TEXT)

    session.add_all(
        [contact(a, "Info@A.ru"), contact(b, "info@a.ru"), contact(a, "+74951234567", ContactKind.PHONE)]
    )
    session.flush()
    _expect_conflict(session, contact(a, "INFO@a.RU"))


def test_opt_out_unique_case_insensitive(session: Session) -> None:
    session.add(OptOut(value="Boss@Example.org", kind=OptOutKind.EMAIL))
    session.flush()
    _expect_conflict(session, OptOut(value="boss@example.ORG", kind=OptOutKind.EMAIL))


def test_one_message_per_contact_and_campaign(session: Session) -> None:
    company = _company("a.ru")
    session.add(company)
    session.flush()
    contact = Contact(
        company_id=company.id, kind=ContactKind.EMAIL, value="a@a.ru", source=ContactSource.MAILTO
    )
    session.add(contact)
    session.flush()
    session.add(OutreachMessage(contact_id=contact.id, company_id=company.id, campaign="spring"))
    session.add(OutreachMessage(contact_id=contact.id, company_id=company.id, campaign="autumn"))
    session.flush()
    _expect_conflict(
        session, OutreachMessage(contact_id=contact.id, company_id=company.id, campaign="spring")
    )


def test_status_values_are_constrained(session: Session) -> None:
    session.add(_company("a.ru"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text("UPDATE companies SET status = 'bogus'"))
    with pytest.raises(StatementError):
        session.add(OutreachMessage(campaign="c", status="bogus"))  # type: ignore[arg-type]
        session.flush()
    session.rollback()


def test_timestamps_round_trip_as_aware_utc(session: Session) -> None:
    company = _company("a.ru")
    session.add(company)
    session.flush()
    session.expire_all()
    loaded = session.get(Company, company.id)
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert loaded.status is CompanyStatus.NEW
    message = OutreachMessage(campaign="c")
    session.add(message)
    session.flush()
    assert message.status is MessageStatus.DRAFTED


def test_views_answer(session: Session) -> None:
    session.add(_company("a.ru"))
    session.add(SerpResult(operation_id="op1", url="https://a.ru/", domain="a.ru", position=1))
    session.flush()
    days = session.execute(text("SELECT day, companies, results FROM daily_summaries")).all()
    assert len(days) == 1 and days[0].companies == 1 and days[0].results == 1
    top = session.execute(text("SELECT domain, results, kept FROM top_domains")).one()
    assert (top.domain, top.results, top.kept) == ("a.ru", 1, 1)
    row = session.execute(text("SELECT canonical_domain, emails, status FROM company_status_view")).one()
    assert (row.canonical_domain, row.emails, row.status) == ("a.ru", 0, "new")
