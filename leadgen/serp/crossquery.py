"""Directories by behaviour: a domain kept in the results of many queries of unrelated niches is not a company.

Run at dedupe time over the stored serp_results (one aggregate query), it excludes the companies of such domains
(status `excluded`, status_reason `directory:cross-query`, the counts kept in `metadata.directory`) and marks their
kept results with the same skip_reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, or_, select, update
from sqlalchemy.orm import Session

from leadgen.db.models import Company, CompanyStatus, SerpQuery, SerpResult
from leadgen.db.results import rowcount
from leadgen.serp.filter import SKIP_CROSS_QUERY, SOURCE_CROSS_QUERY
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

CHUNK = 1000
UNTOUCHED = (CompanyStatus.DUPLICATE, CompanyStatus.EXCLUDED)


@dataclass(frozen=True, slots=True)
class CrossQueryDomain:
    """A domain seen kept in `queries` distinct queries of `niches` niches and `regions` regions."""

    domain: str
    queries: int
    niches: int
    regions: int


@dataclass(frozen=True, slots=True)
class CrossQueryReport:
    """What one cross-query pass found and changed. It works on SQL aggregates, set by set: no company fails on
    its own, so `errors` stays empty (it is there for the one report shape, leadgen.stage_report)."""

    domains: list[CrossQueryDomain] = field(default_factory=list)
    companies_excluded: int = 0
    results_marked: int = 0
    errors: tuple[ItemError, ...] = ()


def find_cross_query_domains(session: Session, settings: Settings) -> list[CrossQueryDomain]:
    """Domains over the DIRECTORY_CROSS_QUERY_MIN_* thresholds, from kept (or already so marked) results that have
    a query; niches come from the query's metadata `niche`, regions from its region_code."""
    pairs = (
        select(SerpResult.domain.label("domain"), SerpResult.query_id.label("query_id"))
        .where(
            SerpResult.query_id.is_not(None),
            SerpResult.domain.is_not(None),
            or_(SerpResult.skip_reason.is_(None), SerpResult.skip_reason == SKIP_CROSS_QUERY),
        )
        .group_by(SerpResult.domain, SerpResult.query_id)
        .subquery()
    )
    queries = func.count(pairs.c.query_id)
    niches = func.count(distinct(SerpQuery.meta["niche"].as_string()))
    regions = func.count(distinct(SerpQuery.region_code))
    stmt = (
        select(pairs.c.domain, queries, niches, regions)
        .join(SerpQuery, SerpQuery.id == pairs.c.query_id)
        .group_by(pairs.c.domain)
        .having(
            queries >= settings.directory_cross_query_min_queries,
            niches >= settings.directory_cross_query_min_niches,
            regions >= settings.directory_cross_query_min_regions,
        )
        .order_by(pairs.c.domain)
    )
    return [CrossQueryDomain(*row) for row in session.execute(stmt)]


def _chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def exclude_cross_query_domains(session: Session, settings: Settings, *, now: datetime) -> CrossQueryReport:
    """Find the cross-query directories and reclassify what is stored of them, inside the caller's transaction.

    Their companies (other than duplicates and those already excluded) become `excluded` with status_reason
    `directory:cross-query` and `metadata.directory` = {source, queries, niches, regions, status_before}; their
    kept results get skip_reason `directory:cross-query`. A second run changes nothing.
    """
    found = find_cross_query_domains(session, settings)
    if not found:
        return CrossQueryReport()
    by_domain = {d.domain: d for d in found}
    companies: list[tuple[int, str, CompanyStatus, dict[str, Any] | None]] = []
    for chunk in _chunks(list(by_domain)):
        companies.extend(
            session.execute(
                select(Company.id, Company.canonical_domain, Company.status, Company.meta).where(
                    Company.canonical_domain.in_(chunk), Company.status.not_in(UNTOUCHED)
                )
            ).tuples()
        )
    writes = []
    for company_id, domain, status, meta in companies:
        seen = by_domain[domain]
        new_meta = dict(meta or {})
        new_meta["directory"] = {
            "source": SOURCE_CROSS_QUERY,
            "queries": seen.queries,
            "niches": seen.niches,
            "regions": seen.regions,
            "status_before": str(status),
        }
        writes.append({"id": company_id, "status": CompanyStatus.EXCLUDED, "status_reason": SKIP_CROSS_QUERY,
                       "meta": new_meta, "updated_at": now})  # fmt: skip
    for chunk in _chunks(writes):
        session.execute(update(Company), list(chunk))
    marked = 0
    for chunk in _chunks(list(by_domain)):
        marked += rowcount(
            session.execute(
                update(SerpResult)
                .where(SerpResult.domain.in_(chunk), SerpResult.skip_reason.is_(None))
                .values(skip_reason=SKIP_CROSS_QUERY, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
    return CrossQueryReport(domains=found, companies_excluded=len(writes), results_marked=marked)
