"""The non-company filter: why a SERP result is not a company candidate (`skip_reason`), or None to keep it.

Two layers: the domain list (shipped in leadgen.data, extended by DIRECTORY_DOMAINS_EXTRA and
DIRECTORY_DOMAINS_FILE; each entry remembers where it came from), then the signals in the result itself
(leadgen.serp.signals). Behaviour across searches is leadgen.serp.crossquery, run at dedupe time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from leadgen.data import DIRECTORY_DOMAINS_BY_CATEGORY, MINUS_DOMAINS
from leadgen.domains import host_of, listed_host
from leadgen.errors import ConfigurationError
from leadgen.serp.signals import result_signal
from leadgen.settings import Settings

SKIP_NO_DOMAIN = "no_domain"
SKIP_MINUS_DOMAIN = "minus_domain"
SKIP_EXTRA = "directory:extra"
SKIP_REPEAT = "repeat"
SKIP_CROSS_QUERY = "directory:cross-query"
DIRECTORY_PREFIX = "directory:"
SOURCE_SHIPPED = "shipped"
SOURCE_SETTINGS = "settings"
SOURCE_FILE = "file"
SOURCE_SIGNAL = "signal"
SOURCE_CROSS_QUERY = "cross-query"
MAX_CATEGORY = 40


def _normalise_entries(entries: Iterable[str]) -> set[str]:
    return {host for host in map(listed_host, entries) if host is not None}


class PageDocument(Protocol):
    """What `classify_page` reads of a result (a `SerpDocument` has it)."""

    @property
    def host(self) -> str: ...
    @property
    def domain(self) -> str | None: ...
    @property
    def canonical_url(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def snippet(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of a directory list file: the domain, its category (`directory:<category>`) and its source."""

    domain: str
    category: str
    source: str


def read_list_file(path: Path) -> list[ListEntry]:
    """Read a directory list: one `domain [category [source]]` per line (tab, comma or blanks between), `#` comments.

    The category defaults to `extra`, the source to `file`; `leadgen serp directories` writes the same format.
    Raises ConfigurationError when the file cannot be read or a line is not a domain.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"DIRECTORY_DOMAINS_FILE {path}: cannot read ({exc})") from exc
    out: list[ListEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].replace(",", " ").replace("\t", " ").strip()
        if not line:
            continue
        fields = line.split()
        host = listed_host(fields[0])
        category = (fields[1] if len(fields) > 1 else "extra").lower().removeprefix(DIRECTORY_PREFIX)
        if host is None or len(category) > MAX_CATEGORY:
            raise ConfigurationError(
                f"DIRECTORY_DOMAINS_FILE {path}:{number}: not a domain entry: {raw.strip()!r}"
            )
        out.append(ListEntry(host, category, fields[2] if len(fields) > 2 else SOURCE_FILE))
    return out


def page_repeat(first_kept: dict[str, bool], domain: str | None, reason: str | None) -> str | None:
    """The page-order rule for one result, given its own skip `reason`: a result whose registrable domain appeared
    higher on the same page is a `repeat` (the same company), unless both are skipped for their own reasons.
    `first_kept` (domain -> whether its first result was kept) is the page's memory; start it empty per page."""
    if domain is None:
        return reason
    kept_before = first_kept.get(domain)
    if kept_before is None:
        first_kept[domain] = reason is None
        return reason
    return SKIP_REPEAT if reason is None or kept_before else reason


@dataclass(frozen=True, slots=True)
class DomainFilter:
    """Maps a listed domain (or any of its subdomains) to a skip reason; build it once with `from_settings`.

    `sources` says where each listed domain came from (`shipped`, `settings`, `file`, or the source column of the
    list file); `heuristics` turns the signals of the result itself (path, title, snippet, host shape) on.
    """

    reasons: Mapping[str, str]
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    heuristics: bool = True

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DomainFilter:
        """The shipped lists plus DIRECTORY_DOMAINS_EXTRA, DIRECTORY_DOMAINS_FILE and PLANNING_MINUS_DOMAINS."""
        if settings is None:
            return _build((), (), None, True)
        return _build(
            tuple(settings.directory_domains_extra),
            tuple(settings.planning_minus_domains),
            settings.directory_domains_file,
            settings.directory_heuristics,
        )

    @classmethod
    def from_lists(
        cls,
        extra: Iterable[str],
        minus: Iterable[str],
        *,
        entries: Iterable[ListEntry] = (),
        heuristics: bool = True,
    ) -> DomainFilter:
        """Build a filter from explicit extension lists (later layers win: minus, file, settings, shipped)."""
        reasons: dict[str, str] = {}
        sources: dict[str, str] = {}
        for domain in _normalise_entries(MINUS_DOMAINS) | _normalise_entries(minus):
            reasons[domain], sources[domain] = SKIP_MINUS_DOMAIN, SOURCE_SETTINGS
        for entry in entries:
            reasons[entry.domain], sources[entry.domain] = DIRECTORY_PREFIX + entry.category, entry.source
        for domain in _normalise_entries(extra):
            reasons[domain], sources[domain] = SKIP_EXTRA, SOURCE_SETTINGS
        for category, domains in DIRECTORY_DOMAINS_BY_CATEGORY.items():
            for domain in _normalise_entries(domains):
                reasons[domain], sources[domain] = DIRECTORY_PREFIX + category, SOURCE_SHIPPED
        return cls(MappingProxyType(reasons), MappingProxyType(sources), heuristics)

    def entry_for_host(self, host: str | None, /) -> str | None:
        """The most specific listed domain the host falls under (`spb.hh.ru` → `hh.ru`), else None."""
        reasons = self.reasons
        while host:
            if host in reasons:
                return host
            host = host.partition(".")[2]
        return None

    def reason_for_host(self, host: str | None, /) -> str | None:
        """The reason of the most specific listed domain the host falls under, else None."""
        reasons = self.reasons
        while host:
            reason = reasons.get(host)
            if reason is not None:
                return reason
            host = host.partition(".")[2]
        return None

    def skip_reason(self, url: str, domain: str | None, /) -> str | None:
        """The list's verdict on a URL (no result signals: see `classify`); None when it is not listed."""
        return self.skip_reason_for_host(host_of(url), domain)

    def skip_reason_for_host(self, host: str | None, domain: str | None, /) -> str | None:
        """The list's verdict for an already normalised host (saves parsing the URL again)."""
        reason = self.reason_for_host(host)
        if reason is not None:
            return reason
        if domain is None:
            return SKIP_NO_DOMAIN
        if host and (host == domain or host.endswith("." + domain)):
            return None  # the walk over the host's parents already looked at the domain and its parents
        return self.reason_for_host(domain)

    def classify(
        self, host: str | None, domain: str | None, url: str, title: str | None, snippet: str | None, /
    ) -> str | None:
        """The full verdict on one result: the list first, then the signals of the result itself."""
        reason = self.skip_reason_for_host(host, domain)
        if reason is not None or not self.heuristics:
            return reason
        return result_signal(host, domain, url, title, snippet)

    def classify_page(self, documents: Iterable[PageDocument], /) -> list[str | None]:
        """`classify` each document of one result page, in page order; a document whose registrable domain
        appeared higher on the page is a `repeat` (the same company), unless both are skipped for their own
        reasons. So the kept documents of a page have distinct domains."""
        first_kept: dict[str, bool] = {}
        return [
            page_repeat(
                first_kept,
                doc.domain,
                self.classify(doc.host, doc.domain, doc.canonical_url, doc.title, doc.snippet),
            )
            for doc in documents
        ]

    def source_of(self, host: str | None, domain: str | None, reason: str | None, /) -> str | None:
        """Where a skip reason came from: the list entry's source, `signal`, `cross-query`, or None (kept, repeat)."""
        if reason is None or reason in (SKIP_REPEAT, SKIP_NO_DOMAIN):
            return None
        if reason == SKIP_CROSS_QUERY:
            return SOURCE_CROSS_QUERY
        entry = self.entry_for_host(host) or self.entry_for_host(domain)
        if entry is not None and self.reasons[entry] == reason:
            return self.sources.get(entry, SOURCE_SHIPPED)
        return SOURCE_SIGNAL

    def __contains__(self, url_or_host: object) -> bool:
        return isinstance(url_or_host, str) and self.reason_for_host(host_of(url_or_host)) is not None


@lru_cache(maxsize=32)
def _build(
    extra: tuple[str, ...], minus: tuple[str, ...], path: Path | None, heuristics: bool
) -> DomainFilter:
    entries = read_list_file(path) if path is not None else []
    return DomainFilter.from_lists(extra, minus, entries=entries, heuristics=heuristics)
