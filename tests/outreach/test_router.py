"""Router: RU/OTHER/UNKNOWN classification, force-domains, TTL cache, DNS failures (stubbed resolvers)."""

from __future__ import annotations

from datetime import UTC, datetime

import dns.exception
import dns.resolver
import pytest

from leadgen.clock import ManualClock
from leadgen.outreach.router import (
    DnsMxResolver,
    MxAnswer,
    MxCache,
    MxClass,
    Router,
    StaticMxResolver,
    classify_mx,
)
from leadgen.settings import Settings


@pytest.mark.parametrize(
    ("domain", "hosts", "expected"),
    [
        ("yandex.ru", [], MxClass.RU),
        ("ya.ru", [], MxClass.RU),
        ("bk.ru", [], MxClass.RU),
        ("list.ru", [], MxClass.RU),
        ("inbox.ru", [], MxClass.RU),
        ("rambler.ru", [], MxClass.RU),
        ("lenta.ru", [], MxClass.RU),
        ("autorambler.ru", [], MxClass.RU),
        ("ro.ru", [], MxClass.RU),
        ("clinic.ru", ["mx.yandex.net"], MxClass.RU),
        ("clinic.ru", ["mx.yandex.ru."], MxClass.RU),
        ("stroy.com", ["emx.mail.ru"], MxClass.RU),
        ("stroy.com", ["mxs.mail.ru"], MxClass.RU),
        ("firma.org", ["mx.rambler.ru"], MxClass.RU),
        ("firma.ru", ["mx1.hosting.reg.ru", "mx2.hosting.reg.ru"], MxClass.RU),
        ("firma.ru", ["mx1.timeweb.ru"], MxClass.RU),
        ("firma.ru", ["mx1.beget.com"], MxClass.RU),
        ("firma.ru", ["mail.firma.ru"], MxClass.RU),  # self-hosted on a .ru host
        ("gmail.com", ["gmail-smtp-in.l.google.com"], MxClass.OTHER),
        ("firma.ru", ["aspmx.l.google.com", "alt1.aspmx.l.google.com"], MxClass.OTHER),
        ("firma.ru", ["firma-ru.mail.protection.outlook.com"], MxClass.OTHER),
        ("firma.de", ["mx00.ionos.de"], MxClass.OTHER),
        ("firma.ru", [], MxClass.UNKNOWN),
        ("firma.ru", ["."], MxClass.UNKNOWN),
        ("notyandex.net", ["mx.notyandex.net"], MxClass.OTHER),
    ],
)
def test_classify(domain: str, hosts: list[str], expected: MxClass) -> None:
    assert classify_mx(domain, hosts) is expected


def make_router(table: dict[str, list[str]], **kw: object) -> tuple[Router, StaticMxResolver]:
    resolver = StaticMxResolver(table)
    settings = Settings(_env_file=None, **kw)  # type: ignore[call-arg,arg-type]
    return Router.from_settings(settings, resolver=resolver), resolver


def test_routes_by_mx_class() -> None:
    router, _ = make_router(
        {"clinic.ru": ["mx.yandex.net"], "corp.com": ["aspmx.l.google.com"], "dead.ru": []}
    )
    ru = router.route("info@clinic.ru")
    assert (ru.route, ru.mx_class, ru.mx_hosts, ru.fallback) == (
        "yandex",
        MxClass.RU,
        ("mx.yandex.net",),
        "gmail",
    )
    other = router.route("ceo@corp.com")
    assert (other.route, other.mx_class, other.fallback) == ("gmail", MxClass.OTHER, "yandex")
    unknown = router.route("x@dead.ru")
    assert unknown.route == "gmail" and unknown.mx_class is MxClass.UNKNOWN and "no_mx" in unknown.reason
    assert router.route("ivan@mail.ru").route == "yandex"


def test_force_domains_override_and_cover_subdomains() -> None:
    router, _ = make_router(
        {"corp.com": ["aspmx.l.google.com"], "clinic.ru": ["mx.yandex.net"]},
        routing_force_yandex_domains="corp.com",
        routing_force_gmail_domains="clinic.ru",
    )
    assert router.route("a@corp.com").route == "yandex"
    assert router.route("a@spb.clinic.ru").route == "gmail"
    assert "force-domain" in router.route("a@corp.com").reason


def test_mx_lookup_disabled_sends_everything_to_the_default_route() -> None:
    settings = Settings(_env_file=None, routing_mx_lookup=False, routing_default_route="yandex")  # type: ignore[call-arg]
    router = Router.from_settings(settings)
    decision = router.route("a@corp.com")
    assert (
        decision.route == "yandex" and decision.mx_class is MxClass.UNKNOWN and decision.fallback == "gmail"
    )


def test_cache_honours_ttl() -> None:
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=UTC))
    resolver = StaticMxResolver({"clinic.ru": ["mx.yandex.net"]})
    cache = MxCache(resolver, max_ttl=600, clock=clock)
    for _ in range(3):
        cache.lookup("Clinic.RU.")
    assert resolver.lookups == ["clinic.ru"]
    clock.advance(601)
    cache.lookup("clinic.ru")
    assert len(resolver.lookups) == 2


def test_negative_answers_are_cached_briefly() -> None:
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=UTC))
    resolver = StaticMxResolver({})
    cache = MxCache(resolver, max_ttl=3600, clock=clock)
    cache.lookup("gone.ru")
    cache.lookup("gone.ru")
    clock.advance(301)
    cache.lookup("gone.ru")
    assert len(resolver.lookups) == 2


class _Rdata:
    def __init__(self, preference: int, exchange: str) -> None:
        self.preference, self.exchange = preference, exchange


class _Answer(list):  # type: ignore[type-arg]
    class rrset:
        ttl = 1200


class _FakeDns:
    """Stands in for dns.resolver.Resolver: returns records or raises a chosen dnspython exception."""

    def __init__(self, result: object) -> None:
        self.result = result
        self.lifetimes: list[float] = []

    def resolve(self, domain: str, rdtype: str, lifetime: float) -> object:
        self.lifetimes.append(lifetime)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_dns_resolver_orders_by_preference_and_uses_timeout() -> None:
    fake = _FakeDns(_Answer([_Rdata(20, "mx2.yandex.net."), _Rdata(10, "mx.yandex.net.")]))
    answer = DnsMxResolver(timeout=2.5, resolver=fake).resolve_mx("clinic.ru")  # type: ignore[arg-type]
    assert answer == MxAnswer(("mx.yandex.net", "mx2.yandex.net"), ttl=1200.0)
    assert fake.lifetimes == [2.5]


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (dns.resolver.NXDOMAIN(), "nxdomain"),
        (dns.resolver.NoAnswer(), "no_mx"),
        (dns.exception.Timeout(), "dns_error: Timeout"),
        (dns.resolver.NoNameservers(), "dns_error: NoNameservers"),
    ],
)
def test_dns_failures_become_answers(exc: Exception, error: str) -> None:
    answer = DnsMxResolver(resolver=_FakeDns(exc)).resolve_mx("x.ru")  # type: ignore[arg-type]
    assert answer.hosts == () and answer.error == error
