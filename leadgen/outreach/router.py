"""MX routing: look up a recipient domain's MX (TTL cache, timeouts), classify RU/OTHER/UNKNOWN, pick a route."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.exception
import dns.resolver

from leadgen.clock import Clock, utc_now
from leadgen.domains import to_ascii
from leadgen.outreach.providers import RU_MAIL_DOMAINS, RU_MX_SUFFIXES, RU_MX_TLDS
from leadgen.settings import Settings

log = logging.getLogger(__name__)

ROUTES = ("yandex", "gmail")
NEGATIVE_TTL_SECONDS = 300.0
"""How long a failed or empty lookup is cached, at most."""


class MxClass(enum.StrEnum):
    RU = "RU"  # a Russian provider or host: Yandex route
    OTHER = "OTHER"  # resolved elsewhere: default route
    UNKNOWN = "UNKNOWN"  # no MX, DNS failure or lookups disabled: default route


@dataclass(frozen=True, slots=True)
class MxAnswer:
    """MX hosts of a domain, best preference first; `error` says why there are none."""

    hosts: tuple[str, ...]
    ttl: float = NEGATIVE_TTL_SECONDS
    error: str | None = None

    @property
    def null_mx(self) -> bool:
        """RFC 7505 "no mail accepted" (a single MX of `.`)."""
        return self.hosts == ("",) or self.hosts == (".",)


class MxResolver(Protocol):
    """Answers MX questions; production uses DNS, tests pass a stub.

    >>> Router.from_settings(settings, resolver=StaticMxResolver({"clinic.ru": ["mx.yandex.net"]}))  # doctest: +SKIP
    """

    def resolve_mx(self, domain: str, /) -> MxAnswer: ...


class DnsMxResolver:
    """dnspython resolver with a lifetime timeout; NXDOMAIN/no answer/timeout become an MxAnswer with `error`."""

    def __init__(self, *, timeout: float = 5.0, resolver: dns.resolver.Resolver | None = None) -> None:
        self.resolver = resolver or dns.resolver.Resolver()
        self.timeout = timeout

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        try:
            answer = self.resolver.resolve(domain, "MX", lifetime=self.timeout)
        except dns.resolver.NXDOMAIN:
            return MxAnswer((), error="nxdomain")
        except dns.resolver.NoAnswer:
            return MxAnswer((), error="no_mx")
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
            return MxAnswer((), ttl=60.0, error=f"dns_error: {type(exc).__name__}")
        except dns.exception.DNSException as exc:
            return MxAnswer((), ttl=60.0, error=f"dns_error: {type(exc).__name__}")
        records = sorted(answer, key=lambda r: r.preference)
        hosts = tuple(str(r.exchange).rstrip(".").lower() for r in records)
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else NEGATIVE_TTL_SECONDS
        return MxAnswer(hosts, ttl=ttl)


class StaticMxResolver:
    """A resolver from a dict (tests, sandbox): unknown domains answer `nxdomain`; counts lookups."""

    def __init__(self, table: dict[str, Sequence[str]] | None = None) -> None:
        self.table = {k.lower(): tuple(v) for k, v in (table or {}).items()}
        self.lookups: list[str] = []

    def resolve_mx(self, domain: str, /) -> MxAnswer:
        self.lookups.append(domain)
        if domain.lower() not in self.table:
            return MxAnswer((), error="nxdomain")
        hosts = self.table[domain.lower()]
        return MxAnswer(hosts, ttl=3600.0, error=None if hosts else "no_mx")


class MxCache:
    """TTL cache in front of a resolver (thread-safe); TTL is min(record TTL, max_ttl)."""

    def __init__(self, resolver: MxResolver, *, max_ttl: float = 3600.0, clock: Clock = utc_now) -> None:
        self.resolver = resolver
        self.max_ttl = max_ttl
        self.clock = clock
        self._entries: dict[str, tuple[float, MxAnswer]] = {}
        self._lock = threading.Lock()

    def lookup(self, domain: str, /) -> MxAnswer:
        domain = _dns_name(domain)
        now = self.clock().timestamp()
        with self._lock:
            hit = self._entries.get(domain)
            if hit and hit[0] > now:
                return hit[1]
        answer = self.resolver.resolve_mx(domain)
        with self._lock:
            self._entries[domain] = (now + cache_ttl(answer, self.max_ttl), answer)
        return answer


def cache_ttl(answer: MxAnswer, max_ttl: float, /) -> float:
    """Seconds an answer may be reused: its TTL, at most `max_ttl` (NEGATIVE_TTL_SECONDS when it has no host)."""
    ttl = min(answer.ttl, max_ttl) if answer.hosts else min(answer.ttl, NEGATIVE_TTL_SECONDS)
    return max(ttl, 0.0)


def classify_mx(domain: str, hosts: Sequence[str], /) -> MxClass:
    """RU when the domain is a Russian mailbox provider or an MX host is Russian; OTHER; UNKNOWN without MX."""
    domain = domain.lower().rstrip(".")
    if domain in RU_MAIL_DOMAINS:
        return MxClass.RU
    names = [h.lower().rstrip(".") for h in hosts if h and h != "."]
    if not names:
        return MxClass.UNKNOWN
    for host in names:
        if any(host == s or host.endswith("." + s) for s in RU_MX_SUFFIXES):
            return MxClass.RU
    if any(host.rsplit(".", 1)[-1] in RU_MX_TLDS for host in names):
        return MxClass.RU
    return MxClass.OTHER


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one message goes: the SMTP route name, the MX class and hosts behind it, and why."""

    route: str
    mx_class: MxClass
    mx_hosts: tuple[str, ...]
    reason: str
    fallback: str | None = None


class Router:
    """Chooses the SMTP route for a recipient: force-domains, then MX class (RU -> yandex, else default)."""

    def __init__(
        self,
        *,
        cache: MxCache | None,
        force_yandex: Sequence[str] = (),
        force_gmail: Sequence[str] = (),
        default_route: str = "gmail",
        fallback_route: str = "yandex",
    ) -> None:
        self.cache = cache
        # routing speaks DNS: every domain in its punycode spelling (leadgen.domains.to_ascii)
        self.force = {_dns_name(d): "yandex" for d in force_yandex} | {
            _dns_name(d): "gmail" for d in force_gmail
        }
        self.default_route = default_route
        self.fallback_route = fallback_route

    @classmethod
    def from_settings(
        cls, settings: Settings, *, resolver: MxResolver | None = None, clock: Clock = utc_now
    ) -> Router:
        cache = None
        if settings.routing_mx_lookup or resolver is not None:
            cache = MxCache(
                resolver or DnsMxResolver(timeout=settings.routing_dns_timeout_seconds),
                max_ttl=settings.routing_mx_cache_ttl_seconds,
                clock=clock,
            )
        return cls(
            cache=cache,
            force_yandex=settings.routing_force_yandex_domains,
            force_gmail=settings.routing_force_gmail_domains,
            default_route=settings.routing_default_route,
            fallback_route=settings.routing_fallback_route,
        )

    def lookup(self, domain: str) -> MxAnswer:
        if self.cache is None:
            return MxAnswer((), error="lookup_disabled")
        return self.cache.lookup(domain)

    def route(self, email: str) -> RouteDecision:
        domain = _dns_name(email.rsplit("@", 1)[-1])
        answer = MxAnswer((), error="not_looked_up") if domain in RU_MAIL_DOMAINS else self.lookup(domain)
        mx_class = classify_mx(domain, answer.hosts)
        forced = self._forced(domain)
        if forced:
            route, reason = forced, f"force-domain {domain}"
        elif mx_class is MxClass.RU:
            route, reason = "yandex", "russian mail host"
        else:
            route = self.default_route
            reason = "foreign mail host" if mx_class is MxClass.OTHER else f"mx unknown ({answer.error})"
        # The fallback route, or the other route when the fallback is the one that was chosen.
        fallback = next((r for r in (self.fallback_route, *ROUTES) if r != route), None)
        return RouteDecision(route, mx_class, answer.hosts, reason, fallback)

    def _forced(self, domain: str) -> str | None:
        parts = domain.split(".")
        for i in range(len(parts) - 1):
            hit = self.force.get(".".join(parts[i:]))
            if hit:
                return hit
        return None


def _dns_name(domain: str) -> str:
    return to_ascii(domain) or domain.strip().lower()
