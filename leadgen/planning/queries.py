"""Query generation: niche + place + trigger, then Yandex operators (minus-sites, minus-files, lang); pure.

Syntax (checked against Yandex's query-language help, see docs/planning.md): words first, then document operators
separated by spaces; `-site:example.ru` excludes a site with its subdomains, `-mime:pdf` excludes a file type,
`lang:ru` keeps documents in Russian. A query is at most 400 characters and 40 words (Search API limits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from leadgen.data import MINUS_DOMAINS
from leadgen.domains import domain_key
from leadgen.planning.rows import NicheRow, clean_text
from leadgen.settings import Settings

MAX_QUERY_CHARS = 400
MAX_QUERY_WORDS = 40
# File types excluded when DEFAULTS_MIN_NO_FILES is on (types listed by Yandex for the mime: operator).
NO_FILE_TYPES: tuple[str, ...] = ("pdf", "doc", "xls", "ppt", "rtf")


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """Everything generation depends on besides the row; built from Settings by `from_settings`."""

    triggers: tuple[str, ...] = ()
    minus_domains: tuple[str, ...] = ()
    no_files: bool = True
    language: str | None = "ru"
    max_queries: int = 6

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryOptions:
        extras = [d for d in (_clean_domain(x) for x in settings.planning_minus_domains) if d]
        shipped = sorted(MINUS_DOMAINS)
        return cls(
            triggers=tuple(clean_text(t) for t in settings.planning_triggers if clean_text(t)),
            minus_domains=tuple(_unique([*extras, *shipped])),
            no_files=settings.defaults_min_no_files,
            language=(settings.planning_language or "").strip() or None,
            max_queries=settings.planning_max_queries_per_niche,
        )


@dataclass(frozen=True, slots=True)
class GeneratedQuery:
    """One generated query for one row: the text sent to Yandex, its region and its hash."""

    query_text: str
    region_code: str
    query_hash: str
    trigger: str | None
    rank: int
    minus_domains: int
    no_files: bool


def query_hash(query_text: str, region_code: str) -> str:
    """sha1 of `query_text|region_code` (hex), the uniqueness key of serp_queries."""
    return hashlib.sha1(f"{query_text}|{region_code}".encode(), usedforsecurity=False).hexdigest()


def _clean_domain(domain: str) -> str:
    """A `-site:` operand: the domain in the canonical form (`leadgen.domains.domain_key`), "" for junk."""
    return domain_key(domain) or ""


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _fits(parts: Sequence[str]) -> bool:
    text = " ".join(parts)
    return len(text) <= MAX_QUERY_CHARS and len(text.split()) <= MAX_QUERY_WORDS


@lru_cache(maxsize=8)
def _full_tail(options: QueryOptions) -> tuple[str, int, int]:
    """The complete operator tail of `options` (every minus-site and minus-file), its length and word count."""
    tail = [f"lang:{options.language}"] if options.language else []
    files = [f"-mime:{ext}" for ext in NO_FILE_TYPES] if options.no_files else []
    sites = [f"-site:{domain}" for domain in options.minus_domains]
    text = " ".join([*sites, *files, *tail])
    return text, len(text), len(text.split())


def _compose(words: str, options: QueryOptions) -> tuple[str, int, bool] | None:
    """words + operators, dropping minus-sites from the end (then minus-files) until within the limits."""
    full, full_chars, full_words = _full_tail(options)
    if len(words) + 1 + full_chars <= MAX_QUERY_CHARS and len(words.split()) + full_words <= MAX_QUERY_WORDS:
        # fast path: everything fits (the common case; 600,000 queries in a 100,000-row file)
        return (f"{words} {full}" if full else words), len(options.minus_domains), options.no_files
    tail = [f"lang:{options.language}"] if options.language else []
    files = [f"-mime:{ext}" for ext in NO_FILE_TYPES] if options.no_files else []
    sites = [f"-site:{domain}" for domain in options.minus_domains]
    if not _fits([words, *tail]):
        return None
    while sites and not _fits([words, *sites, *files, *tail]):
        sites.pop()
    if not _fits([words, *sites, *files, *tail]):
        files = []
    return " ".join([words, *sites, *files, *tail]), len(sites), bool(files)


def split_operators(query_text: str, /) -> tuple[str, str]:
    """(words, operators) of a generated query: the search words, and the operator tail that follows them."""
    tokens = query_text.split()
    for i, token in enumerate(tokens):
        if token.startswith(("-site:", "-mime:", "lang:")):
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return query_text, ""


def base_words(row: NicheRow) -> str:
    """The words of the plain query: niche (lower case) and the place (city, else an explicit country)."""
    place = row.city or row.country or ""
    return clean_text(f"{row.niche.lower()} {place}")


def generate_queries(row: NicheRow, options: QueryOptions, /) -> list[GeneratedQuery]:
    """Up to `max_queries` queries for a row: the plain one, then one per trigger, in configured order."""
    words = base_words(row)
    niche_key = row.niche.casefold()
    variants: list[tuple[str, str | None]] = [(words, None)]
    for name in _unique(options.triggers):
        if name.casefold() in niche_key:
            continue
        variants.append((f"{words} {name.lower()}", name))
    out: list[GeneratedQuery] = []
    seen: set[str] = set()
    for text, trigger in variants:
        if len(out) >= options.max_queries:
            break
        composed = _compose(text, options)
        if composed is None:
            continue
        query_text, n_sites, no_files = composed
        digest = query_hash(query_text, row.region_code)
        if digest in seen:
            continue
        seen.add(digest)
        out.append(
            GeneratedQuery(query_text, row.region_code, digest, trigger, len(out) + 1, n_sites, no_files)
        )
    return out
