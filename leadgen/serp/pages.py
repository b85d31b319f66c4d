"""Store many operations' SERP pages at once: COPY on PostgreSQL, `ingest_page` one by one on SQLite.

`ingest_pages` is the one entry point of production ingest (`collect_results`, `leadgen serp ingest`). It picks
the path by dialect and stores what `ingest_page` would store page after page: the same classification and skip
reasons, the same result rows (metadata included), the same companies (name, site, niche/city/region/batch from
the query, first operation) and the same `last_seen_at` moves. A payload that does not parse is skipped with its
`SerpParseError` and the others are stored.

The PostgreSQL path, per chunk of about CHUNK_ROWS results: the next chunks are parsed and classified
(`leadgen.serp.pageplan`: in a thread, or in processes for big batches) while this one is stored; new companies
go in with one `INSERT … ON CONFLICT DO NOTHING` from a COPYed staging table, existing ones are read with one
`SELECT … FOR KEY SHARE`, and the result rows are COPYed straight into `serp_results`, all inside a savepoint. When one of the chunk's operations is already stored, or the COPY hits
the unique `(operation_id, url)` index (a concurrent ingest), the chunk is rolled back to the savepoint and stored
page by page with `ingest_page` (its upserts), so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.errors import SerpParseError
from leadgen.serp.bulk import (
    ANY_STORED,
    CHUNK_ROWS,
    COPY_RESULTS,
    SELECT_COMPANIES,
    TOUCH_COMPANIES,
    UNIQUE_RESULT,
)
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import SOURCE, IngestReport, _query_contexts, _resolve_now, ingest_page, no_company
from leadgen.serp.pageplan import Payload, Plan, plans
from leadgen.serp.parse import parse_serp
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

__all__ = ["PagesReport", "Payload", "ingest_pages"]

BYTES_PER_RESULT = 400  # about what one result takes in a Yandex XML page: chunks are cut by payload size

CREATE_COMPANY_STAGE = """
CREATE TEMP TABLE serp_page_company_stage (
    domain varchar(255) NOT NULL,
    domain_hash varchar(40) NOT NULL,
    name varchar(500),
    website_url varchar(2048),
    snippet text,
    niche varchar(255),
    city varchar(255),
    region_code varchar(32),
    batch_tag varchar(100),
    operation_id varchar(64) NOT NULL
) ON COMMIT DROP
"""
COPY_COMPANY_STAGE = "COPY serp_page_company_stage FROM STDIN"
INSERT_COMPANIES = f"""
INSERT INTO companies (canonical_domain, dedupe_hash, name, website_url, source, status, opt_out, snippet, niche,
                       city, region_code, batch_tag, first_seen_at, last_seen_at, created_at, updated_at, metadata)
SELECT domain, domain_hash, name, website_url, '{SOURCE}', 'new', false, snippet, niche, city, region_code,
       batch_tag, %(now)s, %(now)s, %(now)s, %(now)s, jsonb_build_object('first_operation_id', operation_id)
FROM serp_page_company_stage
ON CONFLICT DO NOTHING
RETURNING canonical_domain, id
"""


@dataclass(frozen=True, slots=True)
class PagesReport:
    """What `ingest_pages` did: one `IngestReport` per stored page (by operation id), the payloads it skipped
    with their parse error, and how the chunks went (`copy` on PostgreSQL, `page` for page-by-page upserts).
    `errors` holds the rejected pages, then the item errors of the stored ones (`pages_report` builds it)."""

    reports: dict[str, IngestReport] = field(default_factory=dict)
    rejected: dict[str, SerpParseError] = field(default_factory=dict)
    path: str = "page"
    chunks_copied: int = 0
    chunks_upserted: int = 0
    errors: tuple[ItemError, ...] = ()

    @property
    def results(self) -> int:
        """Distinct result rows of the stored pages (new + already stored)."""
        return sum(report.results for report in self.reports.values())


def pages_report(
    reports: dict[str, IngestReport],
    rejected: dict[str, SerpParseError],
    path: str,
    copied: int,
    upserted: int,
) -> PagesReport:
    """A `PagesReport` whose `errors` list every rejected page and every stored page's item errors."""
    errors = [ItemError("page", str(exc), id=op, outcome="rejected") for op, exc in rejected.items()]
    errors += [error for report in reports.values() for error in report.errors]
    return PagesReport(reports, rejected, path, copied, upserted, tuple(errors))


def _report(plan: Plan, *, company_ids: dict[str, int | None]) -> IngestReport:
    found = sum(1 for domain in plan.kept if company_ids.get(domain) is not None)
    errors = (*plan.errors, *(no_company(d) for d in plan.kept if company_ids.get(d) is None))
    return IngestReport(
        operation_id=plan.operation_id,
        query_id=plan.ctx.query_id,
        documents=plan.documents,
        skipped_invalid_url=plan.skipped_invalid_url,
        duplicates_in_payload=plan.repeats,
        results_inserted=plan.rows,  # a COPY stores every row or fails
        results_existing=0,
        kept=plan.rows - sum(plan.skipped.values()),
        skipped=dict(sorted(plan.skipped.items())),
        companies_created=plan.created,
        companies_matched=found - plan.created,
        empty=plan.documents == 0,
        errors=errors,
    )


class _Copier:
    """State of one PostgreSQL `ingest_pages`: company ids resolved so far, companies created and touched."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        filt: DomainFilter,
        moment: datetime,
        payloads: dict[str, Payload],
    ) -> None:
        self.session, self.settings, self.filt, self.moment = session, settings, filt, moment
        self.payloads = payloads  # by operation id: a chunk that goes page by page is parsed again
        self.cursor: psycopg.Cursor[Any] = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.ids: dict[str, int | None] = {}
        self.created: set[int] = set()
        self.touched: set[int] = set()
        self.encoding = self.cursor.connection.info.encoding  # a Python codec name
        self.stage_ready = False
        self.copied = self.upserted = 0

    def store(self, plans: list[Plan], reports: dict[str, IngestReport]) -> None:
        """COPY one chunk inside a savepoint; page by page through `ingest_page` when it conflicts."""
        if not plans:
            return
        cursor = self.cursor
        operations = [plan.operation_id for plan in plans]
        if (
            len(set(operations)) == len(operations)
            and not cursor.execute(ANY_STORED, (operations,)).fetchone()
        ):
            cursor.execute("SAVEPOINT serp_pages_copy")
            new_domains = self._companies(plans)
            try:
                touched = self._copy(plans)
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name != UNIQUE_RESULT:
                    raise
                cursor.execute("ROLLBACK TO SAVEPOINT serp_pages_copy")
                for domain in new_domains:
                    company_id = self.ids.pop(domain)
                    self.created.discard(company_id)
            else:
                cursor.execute("RELEASE SAVEPOINT serp_pages_copy")
                self.copied += 1
                self.touched |= touched
                for plan in plans:
                    reports[plan.operation_id] = _report(plan, company_ids=self.ids)
                return
        self.upserted += 1
        for plan in plans:
            reports[plan.operation_id] = ingest_page(
                self.session,
                self.settings,
                parse_serp(self.payloads[plan.operation_id].xml),  # it parsed once: it parses again
                operation_id=plan.operation_id,
                query_id=plan.query_id,
                now=self.moment,
                domain_filter=self.filt,
            )

    def _companies(self, plans: list[Plan]) -> list[str]:
        """Create the chunk's new companies (first page that keeps a domain gives its row); the domains added."""
        ids = self.ids
        first: dict[str, tuple[Plan, bytes]] = {}
        for plan in plans:
            for domain, company in plan.kept.items():
                if domain not in ids and domain not in first:
                    first[domain] = (plan, company)
        if not first:
            return []
        cursor = self.cursor
        if not self.stage_ready:
            cursor.execute(CREATE_COMPANY_STAGE)
            self.stage_ready = True
        with cursor.copy(COPY_COMPANY_STAGE) as copy:
            copy.write(self._encoded(b"".join(company for _, company in first.values())))
        created = dict(cursor.execute(INSERT_COMPANIES, {"now": self.moment}).fetchall())
        cursor.execute("TRUNCATE serp_page_company_stage")
        existing = [domain for domain in first if domain not in created]
        found = dict(cursor.execute(SELECT_COMPANIES, (existing,)).fetchall()) if existing else {}
        for domain, (plan, _) in first.items():
            if domain in created:
                plan.created += 1
                self.created.add(created[domain])
            ids[domain] = created.get(domain) or found.get(domain)
        return list(first)

    def _copy(self, plans: list[Plan]) -> set[int]:
        """COPY the chunk's result rows, each kept one with its company id; the ids of those companies."""
        ids = self.ids
        touched: set[int] = set()
        with self.cursor.copy(COPY_RESULTS) as copy:
            for plan in plans:
                text = plan.copy
                out = [text[0]]
                for i, domain in enumerate(plan.holes, start=1):
                    company_id = ids.get(domain)
                    if company_id is None:
                        out.append(b"\\N")
                    else:
                        out.append(b"%d" % company_id)
                        touched.add(company_id)
                    out.append(text[i])
                copy.write(self._encoded(b"".join(out)))
        return touched

    def _encoded(self, utf8: bytes) -> bytes:
        """COPY text from the planner (UTF-8) in the connection's encoding."""
        return utf8 if self.encoding == "utf-8" else utf8.decode().encode(self.encoding)

    def finish(self) -> None:
        """Move last_seen_at of the companies that existed before and got a new result row."""
        seen_again = sorted(self.touched - self.created)
        if seen_again:
            self.cursor.execute(TOUCH_COMPANIES, {"now": self.moment, "ids": seen_again})
        if self.stage_ready:
            self.cursor.execute("DROP TABLE serp_page_company_stage")
        self.cursor.close()


def _chunks_by_size(payloads: Sequence[Payload], rows: int) -> Iterator[Sequence[Payload]]:
    """Chunks of payloads of about `rows` results each (estimated from the payload size)."""
    start, size = 0, 0
    for i, payload in enumerate(payloads):
        size += len(payload.xml)
        if size >= rows * BYTES_PER_RESULT:
            yield payloads[start : i + 1]
            start, size = i + 1, 0
    if start < len(payloads):
        yield payloads[start:]


def _copy_pages(
    session: Session, settings: Settings, payloads: Sequence[Payload], filt: DomainFilter, moment: datetime
) -> PagesReport:
    query_ids = {p.query_id for p in payloads if p.query_id is not None}
    contexts = _query_contexts(session, query_ids) if query_ids else {}
    copier = _Copier(session, settings, filt, moment, {p.operation_id: p for p in payloads})
    reports: dict[str, IngestReport] = {}
    rejected: dict[str, SerpParseError] = {}
    chunks = _chunks_by_size(payloads, CHUNK_ROWS)
    total = sum(len(p.xml) for p in payloads)
    for chunk in plans(chunks, filt, contexts, moment.isoformat(), total_bytes=total):
        rejected |= chunk.errors()
        copier.store(chunk.plans, reports)
    copier.finish()
    return pages_report(reports, rejected, "copy", copier.copied, copier.upserted)


def _page_by_page(
    session: Session, settings: Settings, payloads: Sequence[Payload], filt: DomainFilter, moment: datetime
) -> PagesReport:
    reports: dict[str, IngestReport] = {}
    rejected: dict[str, SerpParseError] = {}
    for payload in payloads:
        try:
            page = parse_serp(payload.xml)
        except SerpParseError as exc:
            rejected[payload.operation_id] = exc
            continue
        reports[payload.operation_id] = ingest_page(
            session,
            settings,
            page,
            operation_id=payload.operation_id,
            query_id=payload.query_id,
            now=moment,
            domain_filter=filt,
        )
    return pages_report(reports, rejected, "page", 0, 1 if reports else 0)


def ingest_pages(
    session: Session,
    settings: Settings,
    payloads: Iterable[Payload],
    *,
    now: datetime | Clock,
    domain_filter: DomainFilter | None = None,
) -> PagesReport:
    """Parse and store many pages inside the caller's transaction (the caller commits): COPY on PostgreSQL,
    `ingest_page` page by page on SQLite. Stores what `ingest_payload` would, page after page; a payload that
    does not parse is skipped (`rejected`, with its error) and the others are stored."""
    moment = _resolve_now(now)
    filt = domain_filter or DomainFilter.from_settings(settings)
    items = list(payloads)
    if session.get_bind().dialect.name == "postgresql":
        return _copy_pages(session, settings, items, filt, moment)
    return _page_by_page(session, settings, items, filt, moment)
