"""Pages parsed and classified into rows ready for COPY (pure), in a worker thread or, for big batches, processes.

A `Plan` is one page as `ingest_page` would store it: its serp_results rows (column order of RESULT_COLUMNS, the
kept domain standing in column 9 until the company id replaces it), the company row each kept domain would get,
and the counts of its `IngestReport`. `plans` yields the chunks in order, one or two ahead of the caller: in a
thread when the batch is small (the caller's database work releases the GIL), in processes from PROCESS_MIN_BYTES
of payload on (parsing is CPU work, and the caller's process then only formats the COPY).
"""

from __future__ import annotations

import json
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import MappingProxyType
from typing import Any

from leadgen.errors import SerpParseError
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import (
    NAME_MAX,
    _QueryContext,
    _result_meta,
    _unique_by_url,
    query_not_found,
    website_url,
)
from leadgen.serp.parse import SerpPage, parse_serp
from leadgen.stage_report import ItemError

# From this much decoded XML on (50,000 to 80,000 results), pages are parsed in processes: below it the
# start of the processes (about a second) costs more than they save. A collect round of 500 pages stays below.
PROCESS_MIN_BYTES = 32_000_000
MAX_PROCESSES = 2
AHEAD = 2  # chunks in flight beyond the one being stored
# `json.dumps(meta, ensure_ascii=False)` without building an encoder per row (half the cost of a row's metadata)
_encode_meta = json.JSONEncoder(ensure_ascii=False).encode

Company = tuple[str, str | None, str | None]  # (name, website_url, snippet) of a kept domain's company row


@dataclass(frozen=True, slots=True)
class Payload:
    """One finished operation's page: the decoded rawData XML, and the query it answers (for niche, city, ...)."""

    operation_id: str
    xml: bytes
    query_id: int | None = None


@dataclass(slots=True)
class Plan:
    """One parsed, classified page (picklable: no parsed documents, so processes can send it back)."""

    operation_id: str
    query_id: int | None  # as asked; ctx.query_id is None when that query does not exist
    ctx: _QueryContext
    documents: int
    skipped_invalid_url: int
    repeats: int
    kept: dict[str, Company]
    skipped: Counter[str]
    rows: list[list[Any]]
    errors: list[ItemError]
    created: int = 0


@dataclass(slots=True)
class Chunk:
    """The plans of one chunk of payloads, and the payloads that did not parse (operation id → (code, message))."""

    plans: list[Plan] = field(default_factory=list)
    rejected: dict[str, tuple[int | None, str]] = field(default_factory=dict)

    def errors(self) -> dict[str, SerpParseError]:
        return {op: SerpParseError(code, message) for op, (code, message) in self.rejected.items()}


def plan_page(payload: Payload, page: SerpPage, ctx: _QueryContext, filt: DomainFilter, stamp: str) -> Plan:
    """Classify one page as `ingest_page` does and build its rows."""
    errors = []
    if ctx.query_id != payload.query_id:
        errors.append(query_not_found(payload.query_id))
    documents, repeats = _unique_by_url(page.documents)
    kept: dict[str, Company] = {}
    skipped: Counter[str] = Counter()
    rows: list[list[Any]] = []
    operation_id, query_id, source_of = payload.operation_id, ctx.query_id, filt.source_of
    for doc, reason in zip(documents, filt.classify_page(documents), strict=True):
        domain = doc.domain
        if reason is None:
            if domain is not None:
                kept[domain] = ((doc.title or domain)[:NAME_MAX], website_url(doc), doc.snippet)
        else:
            skipped[reason] += 1
        meta = _result_meta(doc, source_of(doc.host, domain, reason))
        rows.append(
            [operation_id, query_id, doc.canonical_url, domain, doc.title, doc.snippet, doc.position, doc.page,
             reason, domain if reason is None else None, stamp, stamp,
             _encode_meta(meta) if meta else "{}"]
        )  # fmt: skip
    return Plan(operation_id, payload.query_id, ctx, len(page.documents), page.skipped_invalid_url, repeats, kept,
                skipped, rows, errors)  # fmt: skip


def plan_chunk(
    payloads: Sequence[Payload], filt: DomainFilter, contexts: dict[int, _QueryContext], stamp: str
) -> Chunk:
    """Parse and plan each payload; one that does not parse is set aside with its error."""
    chunk = Chunk()
    for payload in payloads:
        try:
            page = parse_serp(payload.xml, details=False)  # what is not stored is not read
        except SerpParseError as exc:
            chunk.rejected[payload.operation_id] = (exc.code, exc.message)
            continue
        ctx = contexts.get(payload.query_id) if payload.query_id is not None else None
        chunk.plans.append(plan_page(payload, page, ctx or _QueryContext(None), filt, stamp))
    return chunk


_worker_filter: DomainFilter | None = None


def _start_worker(reasons: dict[str, str], sources: dict[str, str], heuristics: bool) -> None:
    global _worker_filter
    _worker_filter = DomainFilter(MappingProxyType(reasons), MappingProxyType(sources), heuristics)


def _plan_in_worker(payloads: Sequence[Payload], contexts: dict[int, _QueryContext], stamp: str) -> Chunk:
    assert _worker_filter is not None
    return plan_chunk(payloads, _worker_filter, contexts, stamp)


def _executor(filt: DomainFilter, total_bytes: int) -> Executor:
    processes = min(MAX_PROCESSES, os.cpu_count() or 1)
    if total_bytes < PROCESS_MIN_BYTES or processes < 2:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="serp-pages")
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=get_context("spawn"),  # no fork of a process that holds connections and threads
        initializer=_start_worker,
        initargs=(dict(filt.reasons), dict(filt.sources), filt.heuristics),
    )


def plans(
    chunks: Iterable[Sequence[Payload]],
    filt: DomainFilter,
    contexts: dict[int, _QueryContext],
    stamp: str,
    *,
    total_bytes: int,
) -> Iterator[Chunk]:
    """The chunks' plans in order, prepared up to AHEAD chunks ahead of the one the caller is storing."""
    with _executor(filt, total_bytes) as pool:
        threaded = isinstance(pool, ThreadPoolExecutor)
        pending: deque[Future[Chunk]] = deque()
        for chunk in chunks:
            if threaded:
                pending.append(pool.submit(plan_chunk, chunk, filt, contexts, stamp))
            else:
                pending.append(pool.submit(_plan_in_worker, chunk, contexts, stamp))
            if len(pending) > (1 if threaded else AHEAD):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
