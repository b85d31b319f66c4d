"""Store one operation's SERP page: results upserted on (operation_id, url), kept results upsert their company."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert as generic_insert
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.db.models import Company, CompanyStatus, SerpOperation, SerpQuery, SerpResult
from leadgen.domains import dedupe_hash
from leadgen.serp.filter import DomainFilter
from leadgen.serp.parse import SerpDocument, SerpPage, parse_serp
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

SOURCE = "yandex_search_api"
CHUNK = 500  # rows per statement: well below SQLite's 32766 bound parameters
NAME_MAX = 500


QUERY_NOT_FOUND = "query not found; results stored without query_id"
NO_COMPANY = "company row could not be created (conflicting dedupe hash)"


def query_not_found(query_id: int | None) -> ItemError:
    """The page names a query that does not exist: its results are stored without one."""
    return ItemError("query", QUERY_NOT_FOUND, id=query_id, outcome="stored without query_id")


def no_company(domain: str) -> ItemError:
    """A kept domain whose company row could not be created: its results are stored without one."""
    return ItemError("company", NO_COMPANY, key=domain, outcome="stored without company_id")


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest did; JSON-serialisable with `dataclasses.asdict`."""

    operation_id: str
    query_id: int | None
    documents: int
    skipped_invalid_url: int
    duplicates_in_payload: int
    results_inserted: int
    results_existing: int
    kept: int
    skipped: dict[str, int]
    companies_created: int
    companies_matched: int
    empty: bool
    errors: tuple[ItemError, ...] = ()

    @property
    def results(self) -> int:
        """Distinct result rows of the payload (new + already stored)."""
        return self.results_inserted + self.results_existing


def _insert(session: Session, table: Any) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    return generic_insert(table)  # pragma: no cover - only SQLite and Postgres are supported


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _resolve_now(now: datetime | Clock) -> datetime:
    value = now() if callable(now) else now
    if value.tzinfo is None:
        raise ValueError("ingest_payload needs an aware `now`")
    return value


@dataclass(frozen=True, slots=True)
class _QueryContext:
    query_id: int | None
    niche: str | None = None
    city: str | None = None
    region_code: str | None = None
    batch_tag: str | None = None


def _query_context(session: Session, query_id: int | None, errors: list[ItemError]) -> _QueryContext:
    if query_id is None:
        return _QueryContext(None)
    query = session.get(SerpQuery, query_id)
    if query is None:
        errors.append(query_not_found(query_id))
        return _QueryContext(None)
    return _context_of(query)


def _context_of(query: SerpQuery) -> _QueryContext:
    meta = query.meta or {}

    def text(key: str) -> str | None:
        value = meta.get(key)
        return str(value)[:255] if value not in (None, "") else None

    return _QueryContext(
        query_id=query.id,
        niche=text("niche"),
        city=text("city"),
        region_code=query.region_code or text("region_code"),
        batch_tag=query.batch_tag or text("batch_tag"),
    )


def _query_contexts(session: Session, query_ids: set[int]) -> dict[int, _QueryContext]:
    """The contexts of many queries, read in chunks; a query that does not exist is absent."""
    out: dict[int, _QueryContext] = {}
    for chunk in _chunks(sorted(query_ids)):
        for query in session.scalars(select(SerpQuery).where(SerpQuery.id.in_(chunk))):
            out[query.id] = _context_of(query)
    return out


def _unique_by_url(documents: Sequence[SerpDocument]) -> tuple[list[SerpDocument], int]:
    """First occurrence (best position) of each canonical URL; the number of repeats dropped."""
    seen: dict[str, SerpDocument] = {}
    for doc in documents:
        seen.setdefault(doc.canonical_url, doc)
    return list(seen.values()), len(documents) - len(seen)


def _upsert_companies(
    session: Session, kept: dict[str, SerpDocument], ctx: _QueryContext, now: datetime, operation_id: str
) -> tuple[dict[str, int], int]:
    """Insert missing companies (ON CONFLICT DO NOTHING), then read the ids of all; returns (ids, created)."""
    rows = [
        {
            "canonical_domain": domain,
            "dedupe_hash": dedupe_hash(domain),
            "name": (doc.title or domain)[:NAME_MAX],
            "website_url": website_url(doc),
            "source": SOURCE,
            "status": CompanyStatus.NEW,
            "opt_out": False,
            "snippet": doc.snippet,
            "niche": ctx.niche,
            "city": ctx.city,
            "region_code": ctx.region_code,
            "batch_tag": ctx.batch_tag,
            "first_seen_at": now,
            "last_seen_at": now,
            "created_at": now,
            "updated_at": now,
            "metadata": {"first_operation_id": operation_id},
        }
        for domain, doc in kept.items()
    ]
    created = 0
    table = Company.__table__
    for chunk in _chunks(rows):
        stmt = _insert(session, table).on_conflict_do_nothing().returning(table.c.id)
        created += _insert_many(session, stmt, chunk)
    ids: dict[str, int] = {}
    domains = list(kept)
    for chunk in _chunks(domains):
        for company_id, domain in session.execute(
            select(Company.id, Company.canonical_domain).where(Company.canonical_domain.in_(chunk))
        ):
            ids[domain] = company_id
    return ids, created


def _insert_many(session: Session, stmt: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Run INSERT ... RETURNING over many parameter sets (SQLAlchemy "insertmanyvalues": one cached statement,
    batched into multi-row VALUES) and count the rows it actually inserted."""
    return len(session.execute(stmt, list(rows)).all())


def website_url(doc: SerpDocument) -> str:
    """The company's site root, in the scheme Yandex indexed it with (`http://firm.ru/` stays http)."""
    scheme = "http" if doc.url.lower().startswith("http://") else "https"
    host = doc.canonical_url.split("/", 3)[2]
    return f"{scheme}://{host}/"


def ingest_page(
    session: Session,
    settings: Settings,
    page: SerpPage,
    *,
    operation_id: str,
    query_id: int | None = None,
    now: datetime | Clock,
    domain_filter: DomainFilter | None = None,
) -> IngestReport:
    """Store an already parsed page; see `ingest_payload`."""
    moment = _resolve_now(now)
    errors: list[ItemError] = []
    ctx = _query_context(session, query_id, errors)
    filt = domain_filter or DomainFilter.from_settings(settings)
    documents, repeats = _unique_by_url(page.documents)
    reasons: dict[str, str | None] = {}
    kept: dict[str, SerpDocument] = {}
    for doc, reason in zip(documents, filt.classify_page(documents), strict=True):
        reasons[doc.canonical_url] = reason
        if reason is None and doc.domain is not None:
            kept[doc.domain] = doc  # one per domain: later results of a kept domain are `repeat`
    company_ids, created = _upsert_companies(session, kept, ctx, moment, operation_id) if kept else ({}, 0)
    errors += [no_company(domain) for domain in kept if domain not in company_ids]
    rows = [
        _result_row(doc, reasons[doc.canonical_url], operation_id, ctx, company_ids, moment, filt)
        for doc in documents
    ]
    inserted, new_domains = _insert_results(session, rows)
    # Companies seen again through a *new* result row move their last_seen_at; a re-ingest changes nothing.
    _touch(session, [company_ids[d] for d in new_domains if d in company_ids], moment)
    skipped = Counter(r for r in reasons.values() if r is not None)
    return IngestReport(
        operation_id=operation_id,
        query_id=ctx.query_id,
        documents=len(page.documents),
        skipped_invalid_url=page.skipped_invalid_url,
        duplicates_in_payload=repeats,
        results_inserted=inserted,
        results_existing=len(rows) - inserted,
        kept=sum(1 for r in reasons.values() if r is None),
        skipped=dict(sorted(skipped.items())),
        companies_created=created,
        companies_matched=len(company_ids) - created,
        empty=page.is_empty,
        errors=tuple(errors),
    )


def _result_row(
    doc: SerpDocument,
    reason: str | None,
    operation_id: str,
    ctx: _QueryContext,
    company_ids: dict[str, int],
    moment: datetime,
    filt: DomainFilter,
) -> dict[str, Any]:
    """The serp_results row of one result; a kept one points at its company."""
    return {
        "operation_id": operation_id,
        "query_id": ctx.query_id,
        "url": doc.canonical_url,
        "domain": doc.domain,
        "title": doc.title,
        "snippet": doc.snippet,
        "position": doc.position,
        "page": doc.page,
        "skip_reason": reason,
        "company_id": company_ids.get(doc.domain) if reason is None and doc.domain else None,
        "created_at": moment,
        "updated_at": moment,
        "metadata": _result_meta(doc, filt.source_of(doc.host, doc.domain, reason)),
    }


def _insert_results(session: Session, rows: list[dict[str, Any]]) -> tuple[int, set[str]]:
    """Insert the rows not stored yet (ON CONFLICT (operation_id, url) DO NOTHING): how many were new, and the
    domains of the new ones that point at a company."""
    table = SerpResult.__table__
    new_domains: set[str] = set()
    inserted = 0
    for chunk in _chunks(rows):
        stmt = (
            _insert(session, table)
            .on_conflict_do_nothing(index_elements=["operation_id", "url"])
            .returning(table.c.domain, table.c.company_id)
        )
        for domain, company_id in session.execute(stmt, list(chunk)).all():
            inserted += 1
            if company_id is not None:
                new_domains.add(domain)
    return inserted, new_domains


def _touch(session: Session, company_ids: list[int], moment: datetime) -> None:
    """Move last_seen_at of these companies to `moment` (never back)."""
    for chunk in _chunks(company_ids):
        session.execute(
            update(Company)
            .where(Company.id.in_(chunk), Company.last_seen_at < moment)
            .values(last_seen_at=moment)
            .execution_options(synchronize_session=False)
        )


def _result_meta(doc: SerpDocument, skip_source: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if skip_source is not None:
        meta["skip_source"] = skip_source  # shipped, settings, file, signal: where the skip_reason came from
    if doc.url != doc.canonical_url:
        meta["raw_url"] = doc.url
    if doc.rank_in_group > 1:
        meta["rank_in_group"] = doc.rank_in_group
    if doc.headline:
        meta["headline"] = doc.headline
    return meta


def ingest_payload(
    session: Session,
    settings: Settings,
    *,
    operation_id: str,
    xml: bytes,
    query_id: int | None = None,
    now: datetime | Clock,
) -> IngestReport:
    """Parse a decoded rawData XML page and store it inside the caller's transaction (the caller commits).

    Results are upserted on (operation_id, url) with `ON CONFLICT DO NOTHING`; kept results upsert a company on
    canonical_domain (website_url, source `yandex_search_api`, first/last seen, title as provisional name,
    snippet, niche/city/region/batch_tag from the query). Re-ingesting the same payload changes nothing.
    Raises `SerpParseError` before writing anything when the payload is malformed or a response-level error.
    `now` is an aware datetime or a Clock.
    """
    page = parse_serp(xml)
    return ingest_page(session, settings, page, operation_id=operation_id, query_id=query_id, now=now)


def make_on_done(
    settings: Settings, *, now: datetime | Clock
) -> Callable[[Session, SerpOperation, bytes], int]:
    """Adapter for `collect_operations(..., on_done=...)`: ingest the payload, return the number of results."""

    def on_done(session: Session, operation: SerpOperation, xml: bytes) -> int:
        report = ingest_payload(
            session,
            settings,
            operation_id=operation.operation_id,
            xml=xml,
            query_id=operation.query_id,
            now=now,
        )
        return report.results

    return on_done
