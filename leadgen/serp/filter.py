"""The non-company filter: why a SERP result is not a company candidate (`skip_reason`), or None to keep it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from leadgen.data import DIRECTORY_DOMAINS_BY_CATEGORY, MINUS_DOMAINS
from leadgen.domains import host_of, normalise_host
from leadgen.settings import Settings

SKIP_NO_DOMAIN = "no_domain"
SKIP_MINUS_DOMAIN = "minus_domain"
SKIP_EXTRA = "directory:extra"
DIRECTORY_PREFIX = "directory:"


def _normalise_entries(entries: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for entry in entries:
        host = host_of(entry.strip()) if entry.strip() else None
        if host is None:
            host = normalise_host(entry)
        if host is not None:
            out.add(host.removeprefix("www."))
    return out


@dataclass(frozen=True, slots=True)
class DomainFilter:
    """Maps a listed domain (or any of its subdomains) to a skip reason; build it once with `from_settings`."""

    reasons: Mapping[str, str]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DomainFilter:
        """The shipped lists plus DIRECTORY_DOMAINS_EXTRA and PLANNING_MINUS_DOMAINS from settings (memoised)."""
        if settings is None:
            return _build((), ())
        return _build(tuple(settings.directory_domains_extra), tuple(settings.planning_minus_domains))

    @classmethod
    def from_lists(cls, extra: Iterable[str], minus: Iterable[str]) -> DomainFilter:
        """Build a filter from explicit extension lists."""
        reasons: dict[str, str] = {}
        for domain in _normalise_entries(MINUS_DOMAINS) | _normalise_entries(minus):
            reasons[domain] = SKIP_MINUS_DOMAIN
        for domain in _normalise_entries(extra):
            reasons[domain] = SKIP_EXTRA
        for category, domains in DIRECTORY_DOMAINS_BY_CATEGORY.items():
            for domain in _normalise_entries(domains):
                reasons[domain] = DIRECTORY_PREFIX + category
        return cls(MappingProxyType(reasons))

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
        """None when the result is a company candidate; otherwise why it is not."""
        return self.skip_reason_for_host(host_of(url), domain)

    def skip_reason_for_host(self, host: str | None, domain: str | None, /) -> str | None:
        """`skip_reason` for an already normalised host (saves parsing the URL again)."""
        reason = self.reason_for_host(host)
        if reason is not None:
            return reason
        if domain is None:
            return SKIP_NO_DOMAIN
        if host and (host == domain or host.endswith("." + domain)):
            return None  # the walk over the host's parents already looked at the domain and its parents
        return self.reason_for_host(domain)

    def __contains__(self, url_or_host: object) -> bool:
        return isinstance(url_or_host, str) and self.reason_for_host(host_of(url_or_host)) is not None


@lru_cache(maxsize=32)
def _build(extra: tuple[str, ...], minus: tuple[str, ...]) -> DomainFilter:
    return DomainFilter.from_lists(extra, minus)
