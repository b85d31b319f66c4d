"""Pages parsed and classified into COPY text for serp_results (pure), in a worker thread or, for big batches, processes.

A `Plan` is one page as `ingest_page` would store it: its serp_results rows already formatted as COPY text (columns
of RESULT_COLUMNS), cut where each kept row's company id goes, the companies staging row each kept domain would
get, and the counts of its `IngestReport`. `plans` yields the chunks in order, one or two ahead of the caller: in a
thread when the batch is small (the caller's database work releases the GIL), in processes from PROCESS_MIN_BYTES
of payload on (parsing is CPU work, and the caller's process then only joins bytes and company ids).
"""

from __future__ import annotations

import gc
import json
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import MappingProxyType

from leadgen.domains import dedupe_hash
from leadgen.errors import SerpParseError
from leadgen.serp.filter import SKIP_NO_DOMAIN, SKIP_REPEAT, DomainFilter, page_repeat
from leadgen.serp.ingest import NAME_MAX, _QueryContext, query_not_found
from leadgen.serp.parse import TREE_ENCODINGS, XML_DECL_ENCODING_VALUE_RE, LeanDocument, parse_lean
from leadgen.serp.signals import host_signal, path_signal, snippet_signal, title_signal
from leadgen.stage_report import ItemError

# From this much decoded XML on (50,000 to 80,000 results), pages are parsed in processes: below it the
# start of the processes (about a second) costs more than they save. A collect round of 500 pages stays below.
PROCESS_MIN_BYTES = 32_000_000
MAX_PROCESSES = 2
AHEAD = 2  # chunks in flight beyond the one being stored
UNSEEN = "unseen"  # a cache miss (no reason is spelled so)
CACHE_MAX = 262_144  # per-host verdicts kept by a planner before it starts afresh
# COPY's text format (PostgreSQL docs, "COPY: Text Format"): \N is NULL; backslash, newline, carriage return and
# the tab delimiter inside a value are written as backslash sequences.
NULL = "\\N"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_json_text = json.encoder.encode_basestring  # a JSON string, ensure_ascii=False


def _null(value: str | None) -> str:
    return NULL if value is None else value


def _no_backslash(xml: bytes) -> bool:
    """True when no text of the page can hold a backslash: none in the bytes, no character reference, and an
    encoding in which a backslash is byte 0x5C (UTF-8 or ASCII, declared or not)."""
    if b"\\" in xml or b"&#" in xml:
        return False
    declared = XML_DECL_ENCODING_VALUE_RE.match(xml)
    return declared is None or declared.group(1).lower() in TREE_ENCODINGS


def copy_text(value: str | None) -> str:
    """One value as a field of COPY's text format."""
    if value is None:
        return NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(COPY_ESCAPES)
    return value


@dataclass(frozen=True, slots=True)
class Payload:
    """One finished operation's page: the decoded rawData XML, and the query it answers (for niche, city, ...)."""

    operation_id: str
    xml: bytes
    query_id: int | None = None


@dataclass(slots=True)
class Plan:
    """One parsed, classified page (picklable, and small to send back from a process: bytes and counts)."""

    operation_id: str
    query_id: int | None  # as asked; ctx.query_id is None when that query does not exist
    ctx: _QueryContext
    documents: int
    skipped_invalid_url: int
    repeats: int
    kept: dict[str, bytes]  # kept domain → its row of the companies staging table, COPY text
    skipped: Counter[str]
    rows: int
    copy: list[bytes]  # the page's serp_results rows, COPY text, cut where a kept row's company_id goes
    holes: list[str]  # the kept domain whose company id goes between copy[i] and copy[i + 1]
    errors: list[ItemError]
    created: int = 0


@dataclass(slots=True)
class Chunk:
    """The plans of one chunk of payloads, and the payloads that did not parse (operation id → (code, message))."""

    plans: list[Plan] = field(default_factory=list)
    rejected: dict[str, tuple[int | None, str]] = field(default_factory=dict)

    def errors(self) -> dict[str, SerpParseError]:
        return {op: SerpParseError(code, message) for op, (code, message) in self.rejected.items()}


class Classifier:
    """`DomainFilter.classify` and `source_of` with the verdicts that depend on the host alone (the list, the
    host's signals) and the sources cached: result pages repeat hosts heavily."""

    def __init__(self, filt: DomainFilter) -> None:
        self.filt = filt
        self.heuristics = filt.heuristics
        self.hosts: dict[tuple[str, str | None], str | None] = {}
        self.sources: dict[tuple[str, str | None, str], str | None] = {}
        self.paths: dict[str, str | None] = {}

    def reason(
        self, host: str, domain: str | None, url: str, title: str | None, snippet: str | None
    ) -> str | None:
        """What `filt.classify(host, domain, url, title, snippet)` says."""
        key = (host, domain)
        reason = self.hosts.get(key, UNSEEN)
        if reason is UNSEEN:
            reason = self.filt.skip_reason_for_host(host, domain)
            if reason is None and self.heuristics:
                reason = host_signal(host, domain)
            if len(self.hosts) >= CACHE_MAX:
                self.hosts.clear()
            self.hosts[key] = reason
        if reason is not None or not self.heuristics:
            return reason
        return self._path(url) or title_signal(title) or snippet_signal(snippet)

    def _path(self, url: str) -> str | None:
        """`path_signal(url)` of a canonical `https://host/...` URL, cached by what follows the host (all it reads:
        a host holds no `/`, so no dated path can start inside it)."""
        tail = url[url.find("/", 8) :]
        try:
            return self.paths[tail]
        except KeyError:
            if len(self.paths) >= CACHE_MAX:
                self.paths.clear()
            signal = self.paths[tail] = path_signal(url)
            return signal

    def source(self, host: str, domain: str | None, reason: str | None) -> str | None:
        """What `filt.source_of(host, domain, reason)` says."""
        if reason is None or reason == SKIP_REPEAT or reason == SKIP_NO_DOMAIN:
            return None
        key = (host, domain, reason)
        try:
            return self.sources[key]
        except KeyError:
            if len(self.sources) >= CACHE_MAX:
                self.sources.clear()
            source = self.sources[key] = self.filt.source_of(host, domain, reason)
            return source


def _meta(source: str | None, url: str, canonical: str, rank: int, headline: str | None) -> str:
    """`_result_meta` of one result as JSON text (jsonb: key order and spacing are not stored)."""
    parts = []
    if source is not None:
        parts.append(f'"skip_source": {_json_text(source)}')
    if url != canonical:
        parts.append(f'"raw_url": {_json_text(url)}')
    if rank > 1:
        parts.append(f'"rank_in_group": {rank}')
    if headline:
        parts.append(f'"headline": {_json_text(headline)}')
    return "{" + ", ".join(parts) + "}" if parts else "{}"


def _unique(docs: list[LeanDocument]) -> list[LeanDocument]:
    """First occurrence (best position) of each canonical URL, as `_unique_by_url`."""
    seen: dict[str, LeanDocument] = {}
    for doc in docs:
        seen.setdefault(doc[1], doc)
    return list(seen.values())


def plan_page(
    payload: Payload,
    docs: list[LeanDocument],
    invalid: int,
    ctx: _QueryContext,
    classify: Classifier,
    stamp: str,
) -> Plan:
    """Classify one page as `ingest_page` does and format its rows (a later kept result of a domain already kept
    higher on the page is a `repeat`, unless both are skipped for their own reasons)."""
    errors = [query_not_found(payload.query_id)] if ctx.query_id != payload.query_id else []
    documents = _unique(docs)
    # The text of a page's documents holds no tab, newline or CR (`clean_text` splits at whitespace), and a backslash
    # only from a backslash or a character reference in the XML: without those, only the metadata needs escaping
    # (the operation id and the query's fields are escaped once per page).
    esc = _null if _no_backslash(payload.xml) else copy_text
    op = copy_text(payload.operation_id)
    head = f"{op}\t{NULL if ctx.query_id is None else ctx.query_id}\t"
    tail = f"\t{stamp}\t{stamp}\t"
    company_tail = (
        "\t".join(map(copy_text, (ctx.niche, ctx.city, ctx.region_code, ctx.batch_tag, payload.operation_id)))
        + "\n"
    )
    kept: dict[str, bytes] = {}
    first_kept: dict[str, bool] = {}
    skipped: Counter[str] = Counter()
    text: list[str] = []
    copy: list[bytes] = []
    holes: list[str] = []
    for url, canonical, domain, host, title, snippet, _, headline, position, page, rank, _ in documents:
        reason = page_repeat(first_kept, domain, classify.reason(host, domain, canonical, title, snippet))
        meta = _meta(classify.source(host, domain, reason), url, canonical, rank, headline)
        text.append(f"{head}{esc(canonical)}\t{esc(domain)}\t{esc(title)}\t{esc(snippet)}\t{position}\t{page}"
                    f"\t{copy_text(reason)}\t")  # fmt: skip
        if reason is None and domain is not None:
            copy.append("".join(text).encode())
            text.clear()
            holes.append(domain)
            site = f"{'http' if url[:7].lower() == 'http://' else 'https'}://{canonical.split('/', 3)[2]}/"
            kept[domain] = (f"{esc(domain)}\t{dedupe_hash(domain)}\t{esc((title or domain)[:NAME_MAX])}\t{esc(site)}"
                            f"\t{esc(snippet)}\t{company_tail}").encode()  # fmt: skip
        else:
            text.append(NULL)
            if reason is not None:
                skipped[reason] += 1
        text.append(f"{tail}{copy_text(meta)}\n")
    copy.append("".join(text).encode())
    return Plan(payload.operation_id, payload.query_id, ctx, len(docs), invalid, len(docs) - len(documents), kept,
                skipped, len(documents), copy, holes, errors)  # fmt: skip


def plan_chunk(
    payloads: Sequence[Payload], classify: Classifier, contexts: dict[int, _QueryContext], stamp: str
) -> Chunk:
    """Parse and plan each payload; one that does not parse is set aside with its error."""
    chunk = Chunk()
    for payload in payloads:
        try:
            docs, invalid = parse_lean(payload.xml)  # what is not stored is not read
        except SerpParseError as exc:
            chunk.rejected[payload.operation_id] = (exc.code, exc.message)
            continue
        ctx = contexts.get(payload.query_id) if payload.query_id is not None else None
        chunk.plans.append(plan_page(payload, docs, invalid, ctx or _QueryContext(None), classify, stamp))
    return chunk


_worker_classifier: Classifier | None = None


def _start_worker(reasons: dict[str, str], sources: dict[str, str], heuristics: bool) -> None:
    global _worker_classifier
    _worker_classifier = Classifier(
        DomainFilter(MappingProxyType(reasons), MappingProxyType(sources), heuristics)
    )


def _plan_in_worker(payloads: Sequence[Payload], contexts: dict[int, _QueryContext], stamp: str) -> Chunk:
    assert _worker_classifier is not None
    # Planning makes no reference cycles, and the cyclic collector's passes over the per-host caches cost about
    # a sixth of the worker's time: it runs again between chunks.
    gc.disable()
    try:
        return plan_chunk(payloads, _worker_classifier, contexts, stamp)
    finally:
        gc.enable()


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
        classify = Classifier(filt)
        pending: deque[Future[Chunk]] = deque()
        for chunk in chunks:
            if threaded:
                pending.append(pool.submit(plan_chunk, chunk, classify, contexts, stamp))
            else:
                pending.append(pool.submit(_plan_in_worker, chunk, contexts, stamp))
            if len(pending) > (1 if threaded else AHEAD):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
