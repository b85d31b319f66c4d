"""Bulk SERP ingest for Postgres: COPY classified results into a staging table, then two set-based upserts.

The per-operation path is `ingest_payload`; this one is for back-fills and the benchmark (many operations at
once). It follows the same rules: results are unique on (operation_id, url) and never rewritten, kept results
create their company on canonical_domain with ON CONFLICT DO NOTHING, and a company's last_seen_at moves only
when a new result row points at it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.domains import dedupe_hash
from leadgen.errors import ConfigurationError
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import SOURCE, website_url
from leadgen.serp.parse import SerpPage

STAGE_COLUMNS = (
    "seq",
    "operation_id",
    "query_id",
    "url",
    "domain",
    "domain_hash",
    "title",
    "snippet",
    "position",
    "page",
    "skip_reason",
    "website_url",
    "first_for_domain",
)

CREATE_STAGE = """
CREATE TEMP TABLE serp_stage (
    seq bigint NOT NULL,
    operation_id varchar(64) NOT NULL,
    query_id integer,
    url varchar(2048) NOT NULL,
    domain varchar(255),
    domain_hash varchar(40),
    title text,
    snippet text,
    position integer,
    page integer,
    skip_reason varchar(64),
    website_url varchar(2048),
    first_for_domain boolean NOT NULL
) ON COMMIT DROP
"""

INSERT_COMPANIES = f"""
WITH created AS (
    INSERT INTO companies (canonical_domain, dedupe_hash, name, website_url, source, status, opt_out, snippet,
                           first_seen_at, last_seen_at, created_at, updated_at, metadata)
    SELECT domain, domain_hash, left(coalesce(title, domain), 500), website_url,
           '{SOURCE}', 'new', false, snippet, :now, :now, :now, :now,
           jsonb_build_object('first_operation_id', operation_id)
    FROM serp_stage
    WHERE first_for_domain
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM created
"""

INSERT_RESULTS = """
WITH inserted AS (
    INSERT INTO serp_results (operation_id, query_id, url, domain, title, snippet, position, page, skip_reason,
                              company_id, created_at, updated_at, metadata)
    SELECT s.operation_id, s.query_id, s.url, s.domain, s.title, s.snippet, s.position, s.page, s.skip_reason,
           c.id, :now, :now, '{}'::jsonb
    FROM serp_stage s
    LEFT JOIN companies c ON s.skip_reason IS NULL AND c.canonical_domain = s.domain
    ON CONFLICT (operation_id, url) DO NOTHING
    RETURNING company_id
), seen AS (
    UPDATE companies SET last_seen_at = :now
    WHERE id IN (SELECT company_id FROM inserted WHERE company_id IS NOT NULL) AND last_seen_at < :now
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM seen)
"""


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One classified result, ready for the staging table (url is the canonical URL)."""

    operation_id: str
    url: str
    domain: str | None
    title: str | None
    snippet: str | None
    position: int | None
    page: int | None
    skip_reason: str | None
    query_id: int | None = None
    website_url: str | None = None

    def stage_tuple(self, seq: int, first_for_domain: bool = False) -> tuple[object, ...]:
        """The staging-table row; `first_for_domain` marks the row whose values create the company."""
        kept = self.skip_reason is None and self.domain is not None
        return (
            seq,
            self.operation_id,
            self.query_id,
            self.url,
            self.domain,
            dedupe_hash(self.domain) if kept and self.domain else None,
            self.title,
            self.snippet,
            self.position,
            self.page,
            self.skip_reason,
            self.website_url,
            first_for_domain,
        )


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What one bulk ingest did; JSON-serialisable with `dataclasses.asdict`."""

    staged: int
    results_inserted: int
    companies_created: int
    companies_seen_again: int


def rows_from_page(
    operation_id: str, page: SerpPage, domain_filter: DomainFilter, *, query_id: int | None = None
) -> list[ResultRow]:
    """Classify a parsed page exactly as `ingest_payload` does (first occurrence of each canonical URL)."""
    rows: dict[str, ResultRow] = {}
    for doc in page.documents:
        if doc.canonical_url in rows:
            continue
        rows[doc.canonical_url] = ResultRow(
            operation_id=operation_id,
            url=doc.canonical_url,
            domain=doc.domain,
            title=doc.title,
            snippet=doc.snippet,
            position=doc.position,
            page=doc.page,
            skip_reason=domain_filter.skip_reason_for_host(doc.host, doc.domain),
            query_id=query_id,
            website_url=website_url(doc),
        )
    return list(rows.values())


def bulk_ingest(session: Session, rows: Iterable[ResultRow], *, now: datetime | Clock) -> BulkReport:
    """Stage `rows` with COPY and upsert companies and results in two statements (Postgres only; caller commits)."""
    moment = now() if callable(now) else now
    if session.get_bind().dialect.name != "postgresql":
        raise ConfigurationError("bulk_ingest needs PostgreSQL (COPY); use ingest_payload on SQLite")
    session.execute(text(CREATE_STAGE))
    dbapi = session.connection().connection.driver_connection
    staged = 0
    with dbapi.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(f"COPY serp_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            seen: set[str] = set()
            for row in rows:
                first = row.skip_reason is None and row.domain is not None and row.domain not in seen
                if first:
                    seen.add(row.domain)  # type: ignore[arg-type]
                copy.write_row(row.stage_tuple(staged, first))
                staged += 1
    session.execute(text("ANALYZE serp_stage"))
    created = session.execute(text(INSERT_COMPANIES), {"now": moment}).scalar_one()
    inserted, seen = session.execute(text(INSERT_RESULTS), {"now": moment}).one()
    session.execute(text("DROP TABLE serp_stage"))
    return BulkReport(
        staged=staged,
        results_inserted=int(inserted),
        companies_created=int(created),
        companies_seen_again=int(seen),
    )
