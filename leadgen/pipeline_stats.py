"""The pipeline in figures: the funnel per batch, daily summaries, top domains, data quality and the run journal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, distinct, exists, func, or_, select, text
from sqlalchemy.orm import Session

from leadgen.data import MINUS_DOMAINS
from leadgen.db.batches import company_in_batch, query_in_batch
from leadgen.db.models import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    MessageStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    ProcessingJob,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from leadgen.domains import domain_key
from leadgen.outbox_counts import outbox_counts

# Companies worth exporting: not merged into another record, not excluded, reachable.
WORKING_EXCLUDED = (CompanyStatus.DUPLICATE, CompanyStatus.EXCLUDED, CompanyStatus.UNREACHABLE)
WENT_OUT = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.REPLIED)


@dataclass(frozen=True, slots=True)
class FunnelCounts:
    """Counts of one batch (or all, when batch_tag is None) at each pipeline stage.

    `companies` excludes duplicates (counted in `duplicates`); `drafted` counts every outreach message created;
    `sent` every message that went out (later `bounced` or `replied` ones included, also counted on their own);
    `opted_out` counts email contacts that may not be mailed (their address, domain or company opted out).
    The outbox's open ends: `queued` (waiting to be sent), `sending` (claimed by a run right now, or left by a
    crash until the next run releases it), `unknown` (in doubt: the server may have it) and `settled` (rows that
    left `unknown` through evidence; leadgen.outbox_counts says which meta keys record it).
    """

    batch_tag: str | None
    queries: int
    queries_pending: int
    queries_done: int
    operations: int
    results: int
    companies: int
    duplicates: int
    contacts: int
    drafted: int
    sent: int
    failed: int
    skipped: int
    opted_out: int
    bounced: int = 0
    replied: int = 0
    queued: int = 0
    sending: int = 0
    unknown: int = 0
    settled: int = 0


@dataclass(frozen=True, slots=True)
class DailySummary:
    """One row of the daily_summaries view (UTC day)."""

    day: str
    queries: int
    operations: int
    results: int
    companies: int
    contacts: int
    sent: int
    failed: int
    skipped: int


@dataclass(frozen=True, slots=True)
class TopDomain:
    """One row of the top_domains view."""

    domain: str
    results: int
    operations: int
    best_position: int | None
    kept: int
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class QualityChecks:
    """Data-quality checks: repeated domains among companies and minus-domain leakage in SERP results."""

    companies_total: int
    companies_repeated: int
    repeated_domain_rate: float
    results_total: int
    results_leaked: int
    leakage_rate: float
    leaked_domains: list[tuple[str, int]] = field(default_factory=list)


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(stmt) or 0)


def _batch_queries(batch_tag: str | None) -> Any:
    return query_in_batch(batch_tag)


def batch_companies(batch_tag: str | None) -> Any:
    """Companies of the batch: found by its queries (a company found by two batches counts in both)."""
    return company_in_batch(batch_tag)


def opted_out_company() -> Any:
    """A company is opted out when flagged or when its domain is in the opt-out registry."""
    domain_listed = exists().where(
        OptOut.kind == OptOutKind.DOMAIN, func.lower(OptOut.value) == func.lower(Company.canonical_domain)
    )
    return or_(Company.opt_out.is_(True), domain_listed)


def email_listed() -> Any:
    return exists().where(
        OptOut.kind == OptOutKind.EMAIL, func.lower(OptOut.value) == func.lower(Contact.value)
    )


def _per_query(model: type[SerpOperation] | type[SerpResult], batch_tag: str | None) -> Select[Any]:
    """Count rows of `model`; for a batch, only those whose query belongs to it (all rows otherwise)."""
    stmt = select(func.count()).select_from(model)
    if batch_tag is None:
        return stmt
    return stmt.join(SerpQuery, SerpQuery.id == model.query_id).where(SerpQuery.batch_tag == batch_tag)


def funnel(session: Session, *, batch_tag: str | None = None) -> FunnelCounts:
    """Stage counts of one batch: queries → operations → results → companies → contacts → messages."""
    in_q = _batch_queries(batch_tag)
    in_c = batch_companies(batch_tag)
    query_status = (
        select(
            func.count(),
            func.sum(case((SerpQuery.status == "pending", 1), else_=0)),
            func.sum(case((SerpQuery.status == "done", 1), else_=0)),
        )
        .select_from(SerpQuery)
        .where(in_q)
    )
    total, pending, done = session.execute(query_status).one()
    messages: dict[MessageStatus, int] = {
        status: int(n)
        for status, n in session.execute(
            select(OutreachMessage.status, func.count())
            .join(Company, Company.id == OutreachMessage.company_id)
            .where(in_c)
            .group_by(OutreachMessage.status)
        ).all()
    }
    return FunnelCounts(
        batch_tag=batch_tag,
        queries=int(total or 0),
        queries_pending=int(pending or 0),
        queries_done=int(done or 0),
        operations=_count(session, _per_query(SerpOperation, batch_tag)),
        results=_count(session, _per_query(SerpResult, batch_tag)),
        companies=_count(
            session,
            select(func.count()).select_from(Company).where(in_c, Company.status != CompanyStatus.DUPLICATE),
        ),
        duplicates=_count(
            session,
            select(func.count()).select_from(Company).where(in_c, Company.status == CompanyStatus.DUPLICATE),
        ),
        contacts=_count(session, select(func.count()).select_from(Contact).join(Company).where(in_c)),
        drafted=sum(int(n) for n in messages.values()),
        sent=sum(int(messages.get(s, 0)) for s in WENT_OUT),
        failed=int(messages.get(MessageStatus.FAILED, 0)),
        skipped=int(messages.get(MessageStatus.SKIPPED, 0)),
        opted_out=_count(
            session,
            select(func.count())
            .select_from(Contact)
            .join(Company)
            .where(in_c, Contact.kind == ContactKind.EMAIL, or_(opted_out_company(), email_listed())),
        ),
        bounced=int(messages.get(MessageStatus.BOUNCED, 0)),
        replied=int(messages.get(MessageStatus.REPLIED, 0)),
        queued=int(messages.get(MessageStatus.QUEUED, 0)),
        sending=int(messages.get(MessageStatus.SENDING, 0)),
        unknown=int(messages.get(MessageStatus.UNKNOWN, 0)),
        settled=outbox_counts(session, batch_tag=batch_tag).settled,
    )


def batch_tags(session: Session) -> list[str]:
    """Every batch tag seen on queries or companies, sorted."""
    tags = set(session.scalars(select(distinct(SerpQuery.batch_tag)).where(SerpQuery.batch_tag.is_not(None))))
    tags |= set(session.scalars(select(distinct(Company.batch_tag)).where(Company.batch_tag.is_not(None))))
    return sorted(t for t in tags if t)


def funnels(session: Session) -> list[FunnelCounts]:
    """One funnel per batch tag."""
    return [funnel(session, batch_tag=tag) for tag in batch_tags(session)]


def daily_summaries(session: Session, *, days: int = 14) -> list[DailySummary]:
    """The newest `days` rows of the daily_summaries view, newest first."""
    rows = session.execute(
        text(
            "SELECT day, queries, operations, results, companies, contacts, sent, failed, skipped "
            "FROM daily_summaries WHERE day IS NOT NULL ORDER BY day DESC LIMIT :days"
        ),
        {"days": days},
    )
    return [DailySummary(str(r[0]), *(int(v or 0) for v in r[1:])) for r in rows]


def top_domains(session: Session, *, limit: int = 20) -> list[TopDomain]:
    """The domains seen most often in SERP results (top_domains view)."""
    rows = session.execute(
        text(
            "SELECT domain, results, operations, best_position, kept, skip_reason FROM top_domains "
            "ORDER BY results DESC, domain LIMIT :limit"
        ),
        {"limit": limit},
    )
    return [
        TopDomain(str(r[0]), int(r[1]), int(r[2]), None if r[3] is None else int(r[3]), int(r[4] or 0), r[5])
        for r in rows
    ]


def _is_listed(domain: str, listed: frozenset[str]) -> bool:
    """Is `domain` one of `listed` or a subdomain of one (site: excludes subdomains too)?"""
    parts = domain.lower().rstrip(".").split(".")
    return any(".".join(parts[i:]) in listed for i in range(len(parts) - 1))


def quality(
    session: Session, *, batch_tag: str | None = None, minus_domains: Iterable[str] = ()
) -> QualityChecks:
    """Repeated-domain rate among companies and how many SERP results came from minus-domains anyway."""
    in_c = batch_companies(batch_tag)
    total = _count(session, select(func.count()).select_from(Company).where(in_c))
    repeated = _count(
        session,
        select(func.count()).select_from(Company).where(in_c, Company.status == CompanyStatus.DUPLICATE),
    )
    listed = frozenset(domain_key(d) or d.strip().lower() for d in (*MINUS_DOMAINS, *minus_domains) if d)
    domains = select(SerpResult.domain, func.count()).where(SerpResult.domain.is_not(None))
    if batch_tag is not None:
        domains = domains.join(SerpQuery, SerpQuery.id == SerpResult.query_id).where(
            _batch_queries(batch_tag)
        )
    counts = session.execute(domains.group_by(SerpResult.domain)).all()
    results_total = sum(int(n) for _, n in counts)
    leaked = sorted(((d, int(n)) for d, n in counts if _is_listed(d, listed)), key=lambda x: (-x[1], x[0]))
    leaked_total = sum(n for _, n in leaked)
    return QualityChecks(
        companies_total=total,
        companies_repeated=repeated,
        repeated_domain_rate=round(repeated / total, 6) if total else 0.0,
        results_total=results_total,
        results_leaked=leaked_total,
        leakage_rate=round(leaked_total / results_total, 6) if results_total else 0.0,
        leaked_domains=leaked[:20],
    )


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One row of the run journal (processing_jobs) as `leadgen report --runs` shows it."""

    id: int
    stage: str
    batch_tag: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    flow_run_id: str | None
    stats: dict[str, Any]
    error: str | None


def latest_runs(session: Session, *, limit: int = 20) -> list[RunEntry]:
    """The newest `limit` stage runs of the journal, newest first."""
    jobs = session.scalars(
        select(ProcessingJob).order_by(ProcessingJob.started_at.desc(), ProcessingJob.id.desc()).limit(limit)
    )
    return [
        RunEntry(
            id=j.id,
            stage=j.stage,
            batch_tag=j.batch_tag,
            status=str(j.status),
            started_at=j.started_at,
            finished_at=j.finished_at,
            duration_seconds=(j.finished_at - j.started_at).total_seconds() if j.finished_at else None,
            flow_run_id=j.flow_run_id,
            stats=dict(j.stats or {}),
            error=j.error,
        )
        for j in jobs
    ]
