"""Bulk SERP ingest for Postgres: chunks of classified results COPYed straight into serp_results, upsert fallback.

The per-operation path is `ingest_payload`; this one is for back-fills and the benchmark (many operations at
once). It follows the same rules: results are unique on (operation_id, url) and never rewritten, kept results
create their company on canonical_domain with ON CONFLICT DO NOTHING, and a company's last_seen_at moves only
when a new result row points at it.

Per chunk: one set-based INSERT ... ON CONFLICT DO NOTHING creates the chunk's new companies and returns their ids,
one SELECT reads the ids of those that existed, so every result row carries its company_id. When none of the chunk's operation ids is
stored yet, the rows are COPYed straight into serp_results (no staging table) inside a savepoint; if the unique
(operation_id, url) index still rejects one (a concurrent ingest, or a URL repeated across chunks), the chunk is
rolled back to the savepoint and goes through a staging table and INSERT ... ON CONFLICT DO NOTHING instead. The
database enforces uniqueness either way; the pre-check only avoids starting a COPY that is bound to fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.domains import dedupe_hash
from leadgen.errors import ConfigurationError
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import SOURCE, no_company
from leadgen.serp.rows import (
    PageTracker,
    RawResult,
    Record,
    ResultRow,
    records_from_raw,
    rows_from_page,
    rows_from_raw,
)
from leadgen.stage_report import ItemError

__all__ = [
    "CHUNK_ROWS",
    "RESULT_COLUMNS",
    "BulkReport",
    "RawResult",
    "ResultRow",
    "bulk_ingest",
    "bulk_ingest_chunks",
    "bulk_ingest_raw",
    "records_from_raw",
    "rows_from_page",
    "rows_from_raw",
]

# Rows per chunk. Each chunk takes one savepoint; Postgres caches 64 subtransactions per backend.
CHUNK_ROWS = 50_000
UNIQUE_RESULT = "uq_serp_results_operation_id_url"

RESULT_COLUMNS = (
    "operation_id",
    "query_id",
    "url",
    "domain",
    "title",
    "snippet",
    "position",
    "page",
    "skip_reason",
    "company_id",
    "created_at",
    "updated_at",
    "metadata",
)

CREATE_STAGE = """
CREATE TEMP TABLE serp_stage (
    seq bigint NOT NULL,
    operation_id varchar(64) NOT NULL,
    query_id integer,
    url varchar(2048) NOT NULL,
    domain varchar(255),
    title text,
    snippet text,
    position integer,
    page integer,
    skip_reason varchar(64),
    company_id integer,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    metadata jsonb NOT NULL
) ON COMMIT DROP
"""

CREATE_COMPANY_STAGE = """
CREATE TEMP TABLE serp_company_stage (
    domain varchar(255) NOT NULL,
    domain_hash varchar(40) NOT NULL,
    title text,
    website_url varchar(2048),
    snippet text,
    operation_id varchar(64) NOT NULL
) ON COMMIT DROP
"""
COPY_COMPANY_STAGE = "COPY serp_company_stage FROM STDIN"
INSERT_COMPANIES = f"""
INSERT INTO companies (canonical_domain, dedupe_hash, name, website_url, source, status, opt_out, snippet,
                       first_seen_at, last_seen_at, created_at, updated_at, metadata)
SELECT domain, domain_hash, left(coalesce(title, domain), 500), website_url, '{SOURCE}', 'new', false, snippet,
       %(now)s, %(now)s, %(now)s, %(now)s, jsonb_build_object('first_operation_id', operation_id)
FROM serp_company_stage
ON CONFLICT DO NOTHING
RETURNING canonical_domain, id
"""
# Companies of the chunk that existed already: locked as the foreign-key check would lock them, so none can go away
# before the results pointing at them are written.
SELECT_COMPANIES = "SELECT canonical_domain, id FROM companies WHERE canonical_domain = ANY(%s) FOR KEY SHARE"
ANY_STORED = "SELECT 1 FROM serp_results WHERE operation_id = ANY(%s::text[]) LIMIT 1"
COPY_RESULTS = f"COPY serp_results ({', '.join(RESULT_COLUMNS)}) FROM STDIN"
COPY_STAGE = f"COPY serp_stage (seq, {', '.join(RESULT_COLUMNS)}) FROM STDIN"
INSERT_FROM_STAGE = f"""
INSERT INTO serp_results ({", ".join(RESULT_COLUMNS)})
SELECT {", ".join(RESULT_COLUMNS)} FROM serp_stage ORDER BY seq
ON CONFLICT (operation_id, url) DO NOTHING
RETURNING company_id
"""
TOUCH_COMPANIES = (
    "UPDATE companies SET last_seen_at = %(now)s WHERE id = ANY(%(ids)s) AND last_seen_at < %(now)s"
)


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What one bulk ingest did; JSON-serialisable with `dataclasses.asdict`."""

    staged: int
    results_inserted: int
    companies_created: int
    companies_seen_again: int
    chunks_copied: int = 0  # COPYed straight into serp_results
    chunks_upserted: int = 0  # through the staging table: an operation id or a URL was already stored
    errors: tuple[ItemError, ...] = ()  # kept domains whose company row could not be created


class _Loader:
    """State of one bulk ingest: company ids resolved so far, operation ids written, counters."""

    def __init__(self, cursor: psycopg.Cursor[Any], moment: datetime) -> None:
        self.cursor = cursor
        self.moment = moment
        self.stamp = moment.isoformat()
        self.company_ids: dict[str, int | None] = {}
        self.created: set[int] = set()
        self.touched: set[int] = set()
        self.own_operations: set[str] = set()
        self.staged = self.inserted = self.copied = self.upserted = 0
        self.stage_ready = self.company_stage_ready = False
        self.errors: list[ItemError] = []

    def load(self, chunk: Sequence[Record]) -> None:
        """Companies first (their ids go into the result rows), then the results."""
        self.staged += len(chunk)
        self._companies(chunk)
        operations = {record[0] for record in chunk}
        if not self._copy_directly(chunk, operations - self.own_operations):
            self.upserted += 1
            self._upsert(chunk)
        self.own_operations |= operations

    def _results(self, chunk: Sequence[Record]) -> Iterator[tuple[object, ...]]:
        """serp_results rows of a chunk, with their company ids; a repeat of (operation_id, url) is dropped."""
        ids = self.company_ids
        stamp = self.stamp
        seen: set[tuple[str, str]] = set()
        for operation_id, url, domain, title, snippet, position, page, skip_reason, query_id, _ in chunk:
            key = (operation_id, url)
            if key in seen:
                continue  # the first occurrence is stored
            seen.add(key)
            company_id = ids.get(domain) if skip_reason is None and domain is not None else None
            yield (operation_id, query_id, url, domain, title, snippet, position, page, skip_reason, company_id,
                   stamp, stamp, "{}")  # fmt: skip

    def _companies(self, chunk: Sequence[Record]) -> None:
        ids = self.company_ids
        first: dict[str, Record] = {}
        for record in chunk:
            domain = record[2]
            if record[7] is None and domain is not None and domain not in ids and domain not in first:
                first[domain] = record
        if not first:
            return
        cursor = self.cursor
        if not self.company_stage_ready:
            cursor.execute(CREATE_COMPANY_STAGE)
            self.company_stage_ready = True
        with cursor.copy(COPY_COMPANY_STAGE) as copy:
            for domain, r in first.items():
                copy.write_row((domain, dedupe_hash(domain), r[3], r[9], r[4], r[0]))
        created = dict(cursor.execute(INSERT_COMPANIES, {"now": self.moment}).fetchall())
        cursor.execute("TRUNCATE serp_company_stage")
        self.created.update(created.values())
        existing = [domain for domain in first if domain not in created]
        found = dict(cursor.execute(SELECT_COMPANIES, (existing,)).fetchall()) if existing else {}
        for domain in first:
            ids[domain] = created.get(domain) or found.get(domain)
            if ids[domain] is None:
                self.errors.append(no_company(domain))

    def _copy_directly(self, chunk: Sequence[Record], foreign_operations: set[str]) -> bool:
        """COPY into serp_results inside a savepoint (rows are built while the server inserts the earlier ones);
        False, with nothing written, when one of the results is already stored."""
        cursor = self.cursor
        if foreign_operations and cursor.execute(ANY_STORED, (list(foreign_operations),)).fetchone():
            return False
        company_ids: list[int] = []
        written = 0
        cursor.execute("SAVEPOINT serp_bulk_copy")
        try:
            with cursor.copy(COPY_RESULTS) as copy:
                for row in self._results(chunk):
                    copy.write_row(row)
                    written += 1
                    if row[9] is not None:
                        company_ids.append(row[9])  # type: ignore[arg-type]
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != UNIQUE_RESULT:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT serp_bulk_copy")
            return False
        cursor.execute("RELEASE SAVEPOINT serp_bulk_copy")
        self.copied += 1
        self.inserted += written  # a COPY stores every row or fails
        self.touched.update(company_ids)
        return True

    def _upsert(self, chunk: Sequence[Record]) -> None:
        cursor = self.cursor
        if not self.stage_ready:
            cursor.execute(CREATE_STAGE)
            self.stage_ready = True
        with cursor.copy(COPY_STAGE) as copy:
            for seq, row in enumerate(self._results(chunk)):
                copy.write_row((seq, *row))
        inserted = cursor.execute(INSERT_FROM_STAGE).fetchall()
        cursor.execute("TRUNCATE serp_stage")
        self.inserted += len(inserted)
        self.touched.update(company_id for (company_id,) in inserted if company_id is not None)

    def finish(self) -> BulkReport:
        """Move last_seen_at of the companies that existed before and got a new result row."""
        seen_again = sorted(self.touched - self.created)
        touched = 0
        if seen_again:
            touched = self.cursor.execute(TOUCH_COMPANIES, {"now": self.moment, "ids": seen_again}).rowcount
        if self.stage_ready:
            self.cursor.execute("DROP TABLE serp_stage")
        if self.company_stage_ready:
            self.cursor.execute("DROP TABLE serp_company_stage")
        return BulkReport(
            staged=self.staged,
            results_inserted=self.inserted,
            companies_created=len(self.created),
            companies_seen_again=touched,
            chunks_copied=self.copied,
            chunks_upserted=self.upserted,
            errors=tuple(self.errors),
        )


def _require_postgres(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        raise ConfigurationError("bulk_ingest needs PostgreSQL (COPY); use ingest_payload on SQLite")


def _load(session: Session, chunks: Iterable[Sequence[Record]], now: datetime | Clock) -> BulkReport:
    moment = now() if callable(now) else now
    dbapi = session.connection().connection.driver_connection
    with dbapi.cursor() as cursor:  # type: ignore[union-attr]
        loader = _Loader(cursor, moment)
        for chunk in chunks:
            if chunk:
                loader.load(chunk)
        return loader.finish()


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_ingest_chunks(
    session: Session, chunks: Iterable[Sequence[ResultRow]], *, now: datetime | Clock
) -> BulkReport:
    """Store chunks of classified rows (Postgres only; caller commits). A chunk is read only when the previous one
    is stored, so a producer can prepare the next one meanwhile."""
    _require_postgres(session)
    return _load(session, ([row.record() for row in chunk] for chunk in chunks), now)


def bulk_ingest(
    session: Session, rows: Iterable[ResultRow], *, now: datetime | Clock, chunk_size: int = CHUNK_ROWS
) -> BulkReport:
    """Store classified rows in chunks of `chunk_size` (Postgres only; caller commits)."""
    return bulk_ingest_chunks(session, _chunked(rows, chunk_size), now=now)


def _classified(
    raw: Iterable[RawResult | tuple[Any, ...]], domain_filter: DomainFilter, chunk_size: int
) -> Iterator[list[Record]]:
    """Classified chunks; chunk k+1 is classified in a worker thread while the caller stores chunk k (the server
    does the storing, so the client's canonicalisation and Postgres run on two cores at once)."""
    tracker = PageTracker()  # one worker: the chunks are classified one after the other, in order
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="serp-classify") as pool:
        pending = None
        for part in _chunked(raw, chunk_size):
            future = pool.submit(records_from_raw, part, domain_filter, tracker)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def bulk_ingest_raw(
    session: Session,
    raw: Iterable[RawResult | tuple[Any, ...]],
    *,
    domain_filter: DomainFilter,
    now: datetime | Clock,
    chunk_size: int = CHUNK_ROWS,
) -> BulkReport:
    """Canonicalise, classify and store raw results (`RawResult` or tuples of the same shape) in one pass: the
    next chunk is classified while Postgres stores the current one (Postgres only; caller commits)."""
    _require_postgres(session)
    return _load(session, _classified(raw, domain_filter, chunk_size), now)
