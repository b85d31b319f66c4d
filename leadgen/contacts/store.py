"""Storage of enrichment results: idempotent contact upserts, primary choice, company claim and outcome.

Repository functions take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.contacts.extract import Contact as FoundContact
from leadgen.contacts.preference import best as preferred
from leadgen.contacts.thirdparty import STUDIO_KEY, THIRD_PARTY_KEY, third_party_category
from leadgen.db.batches import company_in_batch
from leadgen.db.models import Company, CompanyStatus, Contact, ContactKind, ContactSource
from leadgen.db.results import rowcount

CHOSEN_KEY = "chosen"  # why this email is the company's primary (recipient preference)
# A company left in `enriching` longer than this was claimed by a run that died (killed process, lost database
# connection): the next run claims it again. A batch takes minutes; an hour leaves a wide margin.
STALE_ENRICHING = timedelta(hours=1)
# Rows per INSERT: 12 columns x 1,000 rows stay far below Postgres' 65,535 bind parameters per statement.
UPSERT_BATCH = 1000


def _insert_for(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def upsert_contacts(
    session: Session, company_id: int, contacts: Sequence[FoundContact], *, now: datetime
) -> int:
    """Insert or refresh contacts on (company_id, kind, lower(value)); returns the number of rows written.

    On conflict: last_seen_at moves to `now`, first_seen_at stays; the better score wins together with its
    source and page URL; metadata is merged (new keys win). A manual contact keeps its source and score.
    Written in batches of UPSERT_BATCH rows, so no statement exceeds the driver's bind-parameter limit.
    """
    if not contacts:
        return 0
    unique: dict[tuple[str, str], FoundContact] = {}
    for c in contacts:
        key = (c.kind, c.value.lower())
        if key not in unique or c.quality > unique[key].quality:
            unique[key] = c
    rows = []
    for c in unique.values():
        meta: dict[str, Any] = {}
        if c.extension:
            meta["extension"] = c.extension
        if c.web_studio:
            meta[STUDIO_KEY] = True
        if c.kind == ContactKind.EMAIL.value and c.same_site is False:
            category = third_party_category(c.value)
            if category:
                meta[THIRD_PARTY_KEY] = category  # a site builder's or host's address: never a recipient
        if c.same_site is not None:
            meta["same_site"] = c.same_site
        rows.append(
            {
                "company_id": company_id,
                "kind": ContactKind(c.kind).value,
                "value": c.value,
                "source": ContactSource(c.source).value,
                "quality_score": c.quality,
                "is_primary": False,
                "page_url": c.page_url[:2048] if c.page_url else None,
                "first_seen_at": now,
                "last_seen_at": now,
                "created_at": now,
                "updated_at": now,
                "metadata": meta,
            }
        )
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(_upsert_statement(session, rows[start : start + UPSERT_BATCH]))
    return len(rows)


def _upsert_statement(session: Session, rows: list[dict[str, Any]]) -> Any:
    dialect = session.get_bind().dialect.name
    insert = _insert_for(session)
    table = Contact.__table__
    stmt = insert(table).values(rows)
    excluded = stmt.excluded
    better = and_(
        excluded.quality_score > table.c.quality_score, table.c.source != ContactSource.MANUAL.value
    )
    merged_meta: ColumnElement[Any]
    if dialect == "postgresql":
        merged_meta = table.c["metadata"].op("||")(excluded["metadata"])
        best = func.greatest(table.c.quality_score, excluded.quality_score)
    else:
        merged_meta = func.json_patch(table.c["metadata"], excluded["metadata"])
        best = func.max(table.c.quality_score, excluded.quality_score)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.company_id, table.c.kind, func.lower(table.c.value)],
        set_={
            "last_seen_at": excluded.last_seen_at,
            "updated_at": excluded.updated_at,
            "quality_score": case(
                (table.c.source == ContactSource.MANUAL.value, table.c.quality_score), else_=best
            ),
            "source": case((better, excluded.source), else_=table.c.source),
            "page_url": case((better, excluded.page_url), else_=table.c.page_url),
            "metadata": merged_meta,
        },
    )


def choose_primary(
    session: Session, company_id: int, *, preference: str | None = None
) -> dict[str, int | None]:
    """Mark the best contact of each kind primary (never a web-studio or third-party one); returns {kind: contact id}.

    Phones: quality, then first seen. Emails: the mailbox a buyer reads first by `preference`
    (OUTREACH_RECIPIENT_PREFERENCE; director, sales, info ... before support, HR, accounting, abuse), then
    quality; the chosen contact's meta `chosen` says why ("preferred: sales@ (rank 2 of 11) among 3 addresses").
    """
    session.execute(update(Contact).where(Contact.company_id == company_id).values(is_primary=False))
    chosen: dict[str, int | None] = {}
    for kind in ContactKind:
        rows = session.scalars(
            select(Contact)
            .where(Contact.company_id == company_id, Contact.kind == kind)
            .order_by(Contact.quality_score.desc(), Contact.first_seen_at, Contact.id)
        ).all()
        usable = [
            row
            for row in rows
            if not (row.meta or {}).get(STUDIO_KEY) and not (row.meta or {}).get(THIRD_PARTY_KEY)
        ]
        best: Contact | None = usable[0] if usable else None
        reason: str | None = None
        if kind == ContactKind.EMAIL and usable:
            picked = preferred(usable, lambda c: c.value, preference)
            if picked is not None:
                best, ranked = picked
                reason = ranked.reason(chosen_from=len(usable))
        for row in rows:
            meta = dict(row.meta or {})
            if row is best and reason:
                meta[CHOSEN_KEY] = reason
            elif CHOSEN_KEY in meta:
                del meta[CHOSEN_KEY]
            else:
                continue
            row.meta = meta
        chosen[kind.value] = best.id if best is not None else None
        if best is not None:
            best.is_primary = True
    session.flush()
    return chosen


def claim_companies(
    session: Session,
    *,
    limit: int,
    now: datetime,
    company_ids: Sequence[int] | None = None,
    force: bool = False,
    owner: str | None = None,
    batch_tag: str | None = None,
) -> list[Company]:
    """Move up to `limit` companies from `new` to `enriching` and return them.

    Postgres: `SELECT ... FOR UPDATE SKIP LOCKED` so parallel runs take disjoint companies. SQLite: a
    conditional `UPDATE ... WHERE status = 'new'` per row, so a row already claimed is not claimed twice.
    With `force` (the CLI's `--company`), enriched/no_contacts/unreachable companies are re-claimed too.
    Companies left in `enriching` for longer than STALE_ENRICHING (their run died) are claimed again.
    `owner` (leadgen.owners) is recorded as `claimed_by`, so a later run can release the claim at once when
    this owner is gone (leadgen.contacts.orphans).
    With `batch_tag`, only companies of that batch (leadgen.db.batches) are claimed.
    """
    statuses = [CompanyStatus.NEW]
    if force:
        statuses += [CompanyStatus.ENRICHED, CompanyStatus.NO_CONTACTS, CompanyStatus.UNREACHABLE]
    stale = and_(Company.status == CompanyStatus.ENRICHING, Company.updated_at < now - STALE_ENRICHING)
    claimable = or_(Company.status.in_(statuses), stale)
    query = select(Company.id).where(claimable, company_in_batch(batch_tag)).order_by(Company.id).limit(limit)
    if company_ids is not None:
        query = query.where(Company.id.in_(list(company_ids)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    claimed: list[int] = []
    for company_id in ids:
        result = session.execute(
            update(Company)
            .where(Company.id == company_id, claimable)
            .values(status=CompanyStatus.ENRICHING, status_reason=None, updated_at=now, claimed_by=owner)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) == 1:
            claimed.append(company_id)
    if not claimed:
        return []
    return list(session.scalars(select(Company).where(Company.id.in_(claimed)).order_by(Company.id)))


def record_outcome(
    session: Session,
    company_id: int,
    *,
    status: CompanyStatus,
    reason: str | None,
    now: datetime,
    site_text: str | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Set the company's enrichment outcome (only while it is still `enriching`, so a re-run cannot clash)."""
    company = session.get(
        Company, company_id, with_for_update=session.get_bind().dialect.name == "postgresql"
    )
    if company is None:
        return
    company.status = status
    company.status_reason = reason[:1000] if reason else None
    company.enriched_at = now
    company.updated_at = now
    if site_text:
        company.site_text = site_text
    if meta:
        company.meta = {**(company.meta or {}), **meta}


def release_claim(session: Session, company_id: int, *, reason: str, now: datetime) -> bool:
    """Put a company whose enrichment failed back from `enriching` to `new`, with the reason; True if released."""
    result = session.execute(
        update(Company)
        .where(Company.id == company_id, Company.status == CompanyStatus.ENRICHING)
        .values(status=CompanyStatus.NEW, status_reason=reason[:1000], updated_at=now, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def release_stale(session: Session, *, older_than: datetime, batch_tag: str | None = None) -> int:
    """Put companies left in `enriching` by a crashed run (not updated since `older_than`) back to `new` (only
    the batch's, with `batch_tag`)."""
    result = session.execute(
        update(Company)
        .where(
            Company.status == CompanyStatus.ENRICHING,
            Company.updated_at < older_than,
            company_in_batch(batch_tag),
        )
        .values(
            status=CompanyStatus.NEW, status_reason="released after a stale enrichment claim", claimed_by=None
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def company_contacts(session: Session, company_id: int) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.company_id == company_id)
            .order_by(Contact.quality_score.desc(), Contact.id)
        )
    )
