"""Batch membership (leadgen.db.batches) and the stage functions it limits, on SQLite and Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from leadgen.contacts.orphans import release_orphaned_companies
from leadgen.contacts.store import claim_companies
from leadgen.db.batches import company_in_batch, message_in_batch, operation_in_batch, query_in_batch
from leadgen.db.engine import write_scope
from leadgen.db.models import (
    Company,
    CompanyStatus,
    MessageStatus,
    OperationStatus,
    OutreachMessage,
    QueryStatus,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from leadgen.outreach.claims import claim_next
from leadgen.outreach.orphans import release_orphaned_messages
from leadgen.outreach.recovery import recover_rows
from leadgen.outreach.sendable import sendable_now
from leadgen.outreach.settle import _in_doubt
from leadgen.pipeline_stats import funnel
from leadgen.settings import Settings
from leadgen.yandex.rounds import work_left
from tests.outreach.factories import MONDAY_NOON, queued_messages


@dataclass
class Batches:
    """alpha found `a.ru` and `shared.ru`, beta found `b.ru` and `shared.ru` (stored first for alpha)."""

    companies: dict[str, int]
    messages: dict[str, int]


def _query(session: Session, text: str, tag: str) -> SerpQuery:
    query = SerpQuery(query_text=text, region_code="213", query_hash=text.ljust(40, "0")[:40], batch_tag=tag)
    session.add(query)
    session.flush()
    operation = SerpOperation(operation_id=f"op-{text}", query_id=query.id, status=OperationStatus.PENDING)
    session.add(operation)
    session.flush()
    return query


def _found(session: Session, query: SerpQuery, company_id: int, url: str) -> None:
    session.add(
        SerpResult(operation_id=f"op-{query.query_text}", query_id=query.id, url=url, company_id=company_id)
    )


def two_batches(engine: Engine) -> Batches:
    with write_scope(engine) as s:
        alpha, beta = _query(s, "alpha", "alpha"), _query(s, "beta", "beta")
        ids = queued_messages(s, 3, domain_fmt="c{i}.ru")
        rows = s.execute(select(OutreachMessage.id, OutreachMessage.company_id).order_by(OutreachMessage.id))
        by_company = {company_id: message_id for message_id, company_id in rows}
        companies = dict(zip(("a", "b", "shared"), sorted(by_company), strict=True))
        for name, tag in (("a", "alpha"), ("b", "beta"), ("shared", "alpha")):
            company = s.get(Company, companies[name])
            assert company is not None
            company.batch_tag, company.status = tag, CompanyStatus.NEW
        _found(s, alpha, companies["a"], "https://c0.ru/")
        _found(s, beta, companies["b"], "https://c1.ru/")
        _found(s, alpha, companies["shared"], "https://c2.ru/")
        _found(s, beta, companies["shared"], "https://c2.ru/about")
        assert len(ids) == 3
        return Batches(companies, {name: by_company[cid] for name, cid in companies.items()})


def names(batches: Batches, ids: set[int], key: str = "companies") -> set[str]:
    return {name for name, i in getattr(batches, key).items() if i in ids}


def test_a_company_found_by_two_batches_belongs_to_both(engine: Engine) -> None:
    b = two_batches(engine)
    with write_scope(engine) as s:

        def companies(tag: str | None) -> set[str]:
            return names(b, set(s.scalars(select(Company.id).where(company_in_batch(tag)))))

        def messages(tag: str | None) -> set[str]:
            return names(
                b, set(s.scalars(select(OutreachMessage.id).where(message_in_batch(tag)))), "messages"
            )

        assert companies("alpha") == {"a", "shared"} == messages("alpha")
        assert companies("beta") == {"b", "shared"} == messages("beta")
        assert companies(None) == {"a", "b", "shared"} == messages(None)
        assert companies("gamma") == set()
        texts = set(s.scalars(select(SerpQuery.query_text).where(query_in_batch("beta"))))
        operations = set(s.scalars(select(SerpOperation.operation_id).where(operation_in_batch("beta"))))
        assert texts == {"beta"} and operations == {"op-beta"}
        assert funnel(s, batch_tag="beta").companies == 2 == funnel(s, batch_tag="alpha").companies


def test_enrichment_claims_only_the_batch_companies(engine: Engine) -> None:
    b = two_batches(engine)
    with write_scope(engine) as s:
        claimed = claim_companies(s, limit=10, now=MONDAY_NOON, batch_tag="beta")
        assert names(b, {c.id for c in claimed}) == {"b", "shared"}
    with write_scope(engine) as s:
        assert s.get(Company, b.companies["a"]).status == CompanyStatus.NEW  # type: ignore[union-attr]
        assert claim_companies(s, limit=10, now=MONDAY_NOON, batch_tag="beta") == []


def test_sending_claims_counts_and_recovers_only_the_batch_messages(
    engine: Engine, settings: Settings
) -> None:
    b = two_batches(engine)
    assert sendable_now(engine, settings, MONDAY_NOON, "alpha").due == 2
    assert sendable_now(engine, settings, MONDAY_NOON).due == 3
    claimed = []
    for _ in range(3):
        claim = claim_next(engine, settings, now=MONDAY_NOON, message_domain="x.example", batch_tag="alpha")
        if claim.item is not None:
            claimed.append(claim.item.id)
    assert names(b, set(claimed), "messages") == {"a", "shared"}
    with write_scope(engine) as s:
        beta_only = s.get(OutreachMessage, b.messages["b"])
        assert beta_only is not None and beta_only.status == MessageStatus.QUEUED
    later = MONDAY_NOON + timedelta(hours=2)
    stale = timedelta(minutes=30)
    # the shared company's message is beta's too: beta's recovery takes it, a's waits for alpha's
    assert recover_rows(engine, now=later, stale_after=stale, batch_tag="beta").requeued == 1
    assert recover_rows(engine, now=later, stale_after=stale, batch_tag="alpha").requeued == 1
    assert recover_rows(engine, now=later, stale_after=stale).requeued == 0


def test_search_work_left_counts_only_the_batch(engine: Engine) -> None:
    two_batches(engine)
    with write_scope(engine) as s:
        s.execute(SerpQuery.__table__.update().values(status=QueryStatus.PENDING))
    before = MONDAY_NOON + timedelta(days=3650)
    assert work_left(engine, before=before, batch_tag="beta") == (1, 1)
    assert work_left(engine, before=before) == (2, 2)


def test_claims_of_gone_runs_are_released_only_in_the_batch(engine: Engine) -> None:
    """The orphan release at the start of a batch's enrich or send run leaves other batches' claims alone."""
    b = two_batches(engine)
    with write_scope(engine) as s:
        for company_id in b.companies.values():
            s.execute(
                Company.__table__.update()
                .where(Company.id == company_id)
                .values(status=CompanyStatus.ENRICHING, claimed_by="gone")
            )
        s.execute(
            OutreachMessage.__table__.update().values(
                status=MessageStatus.SENDING, claimed_by="gone", sending_started_at=MONDAY_NOON
            )
        )
    released = release_orphaned_companies(
        engine, owner_alive=lambda _: False, now=MONDAY_NOON, batch_tag="alpha"
    )
    assert released.owner_gone == 2
    messages = release_orphaned_messages(
        engine, owner_alive=lambda _: False, now=MONDAY_NOON, batch_tag="alpha"
    )
    assert messages.requeued == 2
    with write_scope(engine) as s:
        beta_company = s.get(Company, b.companies["b"])
        beta_message = s.get(OutreachMessage, b.messages["b"])
        assert beta_company is not None and beta_company.status == CompanyStatus.ENRICHING
        assert beta_message is not None and beta_message.status == MessageStatus.SENDING
    assert [d.id for d in _in_doubt(engine, "beta")] == []  # nothing `unknown` yet
    with write_scope(engine) as s:
        s.execute(OutreachMessage.__table__.update().values(status=MessageStatus.UNKNOWN))
    assert names(b, {d.id for d in _in_doubt(engine, "beta")}, "messages") == {"b", "shared"}
