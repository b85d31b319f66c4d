"""Which companies an enrichment run is about: ids by domain (`--company`) and how many are due (progress)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.batches import company_in_batch
from leadgen.db.models import Company, CompanyStatus
from leadgen.domains import canonical_domain, to_ascii


def company_ids_by_domain(session: Session, keys: Sequence[str]) -> dict[str, int]:
    """The companies whose canonical domain is one of `keys` (lower-case ASCII domains), as domain → id;
    a key with no company is absent from the result."""
    if not keys:
        return {}
    domain = func.lower(Company.canonical_domain)
    rows = session.execute(select(domain, Company.id).where(domain.in_(list(keys)))).all()
    return {str(key): int(company_id) for key, company_id in rows}


def company_ids_for_typed(session: Session, typed: Sequence[str]) -> tuple[list[int], list[str]]:
    """The companies of domains as a person types them (`leadgen enrich --company`), each keyed by
    `canonical_domain` (its punycode spelling finds older rows): (their ids, what was typed and matched none)."""
    keys = [canonical_domain(text) or text.strip().lower() for text in typed]
    spellings = sorted({spelling for key in keys for spelling in (key, to_ascii(key) or key)})
    rows = company_ids_by_domain(session, spellings)
    found = {canonical_domain(domain) or domain: company_id for domain, company_id in rows.items()}
    missing = [text for text, key in zip(typed, keys, strict=True) if key not in found]
    return list(found.values()), missing


def count_to_enrich(
    session: Session,
    *,
    limit: int,
    company_ids: Sequence[int] | None = None,
    batch_tag: str | None = None,
) -> int:
    """How many companies a run of at most `limit` will crawl: the listed `company_ids` whatever their status,
    else the `new` ones; with `batch_tag`, only companies of that batch."""
    query = select(func.count()).select_from(Company).where(company_in_batch(batch_tag))
    if company_ids is not None:
        query = query.where(Company.id.in_(list(company_ids)))
    else:
        query = query.where(Company.status == CompanyStatus.NEW)
    return min(limit, int(session.scalar(query) or 0))
