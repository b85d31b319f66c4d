"""Classified SERP results ready for storage (`ResultRow`), built from parsed pages or from raw result URLs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from leadgen.domains import canonicalise
from leadgen.serp.filter import DomainFilter, page_repeat
from leadgen.serp.ingest import website_url
from leadgen.serp.parse import SerpDocument, SerpPage
from leadgen.serp.signals import result_signal

# A ResultRow's fields as a tuple: (operation_id, url, domain, title, snippet, position, page, skip_reason,
# query_id, website_url).
Record = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One classified result, ready to store (url is the canonical URL)."""

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

    def record(self) -> Record:
        """The fields as a plain tuple, in declaration order (what the bulk loader works on)."""
        return (self.operation_id, self.url, self.domain, self.title, self.snippet, self.position, self.page,
                self.skip_reason, self.query_id, self.website_url)  # fmt: skip


class RawResult(NamedTuple):
    """One result as a search API or an export gives it: the URL is raw (any case, tracking parameters, `www.`)."""

    operation_id: str
    url: str
    title: str | None
    snippet: str | None
    position: int | None
    page: int | None
    query_id: int | None = None


def rows_from_page(
    operation_id: str, page: SerpPage, domain_filter: DomainFilter, *, query_id: int | None = None
) -> list[ResultRow]:
    """Classify a parsed page exactly as `ingest_payload` does (first occurrence of each canonical URL; a later
    result of a domain already on the page is a `repeat`)."""
    unique: dict[str, SerpDocument] = {}
    for doc in page.documents:
        unique.setdefault(doc.canonical_url, doc)
    docs = list(unique.values())
    return [
        ResultRow(
            operation_id=operation_id,
            url=doc.canonical_url,
            domain=doc.domain,
            title=doc.title,
            snippet=doc.snippet,
            position=doc.position,
            page=doc.page,
            skip_reason=reason,
            query_id=query_id,
            website_url=website_url(doc),
        )
        for doc, reason in zip(docs, domain_filter.classify_page(docs), strict=True)
    ]


class PageTracker:
    """Domains seen so far on the current result page of a stream of raw results (for `repeat`).

    Raw results of one page (operation_id, page) must come one after the other, in position order, as the API and
    exports give them; a new page starts a new record."""

    __slots__ = ("domains", "key")

    def __init__(self) -> None:
        self.key: tuple[Any, Any] | None = None
        self.domains: dict[str, bool] = {}

    def reason(self, key: tuple[Any, Any], domain: str | None, reason: str | None) -> str | None:
        """The result's reason once the page's earlier results are taken into account."""
        if key != self.key:
            self.key = key
            self.domains = {}
        return page_repeat(self.domains, domain, reason)


def records_from_raw(
    raw: Iterable[RawResult | tuple[Any, ...]],
    domain_filter: DomainFilter,
    tracker: PageTracker | None = None,
) -> list[Record]:
    """Canonicalise and classify raw results as `parse_serp` + `rows_from_page` would, as `Record` tuples; URLs
    that are not http(s) are dropped. Repeats of a canonical URL are kept: `bulk_ingest` stores the first one.
    Pass one `tracker` to successive calls when a page may span two of them."""
    list_reason = domain_filter.skip_reason_for_host
    signal = result_signal if domain_filter.heuristics else None
    pages = tracker if tracker is not None else PageTracker()
    page_key, seen = pages.key, pages.domains  # the tracker's logic inlined: this loop runs per raw result
    out: list[Record] = []
    append = out.append
    for item in raw:
        url = item[1]
        parts = canonicalise(url)
        if parts is None:
            continue
        canonical, domain, host = parts.url, parts.domain, parts.host
        netloc = canonical[8 : canonical.index("/", 8)]  # canonical URLs are `https://host/...`
        site = f"http://{netloc}/" if url.lstrip()[:7].lower() == "http://" else f"https://{netloc}/"
        reason = list_reason(host, domain)
        if reason is None and signal is not None:
            reason = signal(host, domain, canonical, item[2], item[3])
        key = (item[0], item[5])
        if key != page_key:
            page_key, seen = key, {}
        reason = page_repeat(seen, domain, reason)
        append(
            (item[0], canonical, domain, item[2], item[3], item[4], item[5], reason,
             item[6] if len(item) > 6 else None, site)
        )  # fmt: skip
    pages.key, pages.domains = page_key, seen
    return out


def rows_from_raw(raw: Iterable[RawResult | tuple[Any, ...]], domain_filter: DomainFilter) -> list[ResultRow]:
    """`records_from_raw` as `ResultRow`s."""
    return [ResultRow(*record) for record in records_from_raw(raw, domain_filter)]
