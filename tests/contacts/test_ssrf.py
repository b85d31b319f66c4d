"""SSRF guard: schemes, IP literals, resolved addresses (injected resolver, no real DNS), allowlist, proxy mode."""

from __future__ import annotations

import asyncio

import pytest

from leadgen.contacts.ssrf import SsrfGuard
from leadgen.errors import FetchFailed, UnsafeTarget

DNS = {
    "firma.ru": ["93.184.216.34"],
    "internal.firma.ru": ["10.0.0.1"],
    "mixed.firma.ru": ["93.184.216.34", "192.168.1.10"],
    "v6.firma.ru": ["2a00:1450:4010:c0b::64"],
    "v6-local.firma.ru": ["fe80::1"],
    "mapped.firma.ru": ["::ffff:127.0.0.1"],
    "meta.firma.ru": ["169.254.169.254"],
    "sandbox.test": ["127.0.0.1"],
}


async def fake_resolver(host: str) -> list[str]:
    if host not in DNS:
        raise OSError("Name or service not known")
    return DNS[host]


def check(url: str, **kwargs: object) -> object:
    guard = SsrfGuard(resolver=fake_resolver, **kwargs)  # type: ignore[arg-type]
    return asyncio.run(guard.check(url))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://firma.ru/",
        "file:///etc/passwd",
        "gopher://firma.ru/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://172.16.0.5/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://localhost/",
        "http://printer.local/",
        "http://intranet/",
        "http://internal.firma.ru/",
        "http://mixed.firma.ru/",
        "http://v6-local.firma.ru/",
        "http://mapped.firma.ru/",
        "http://meta.firma.ru/",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check(url)


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://firma.ru/", ("93.184.216.34",)),
        ("https://FIRMA.ru:8443/contacts", ("93.184.216.34",)),
        ("http://v6.firma.ru/", ("2a00:1450:4010:c0b::64",)),
        ("http://8.8.8.8/", ("8.8.8.8",)),
    ],
)
def test_public_targets_are_allowed_with_their_addresses(url: str, addresses: tuple[str, ...]) -> None:
    target = check(url)
    assert target.addresses == addresses  # type: ignore[attr-defined]


def test_unresolvable_host_is_a_fetch_failure() -> None:
    with pytest.raises(FetchFailed):
        check("http://nowhere.firma.ru/")


def test_allowlist_by_cidr_and_by_host() -> None:
    assert check("http://sandbox.test/", allow=["127.0.0.0/8"]).addresses == ("127.0.0.1",)  # type: ignore[attr-defined]
    assert check("http://127.0.0.1:8080/", allow=["127.0.0.1"]).port == 8080  # type: ignore[attr-defined]
    assert check("http://internal.firma.ru/", allow=["internal.firma.ru"]).host == "internal.firma.ru"  # type: ignore[attr-defined]
    with pytest.raises(UnsafeTarget):
        check("http://10.0.0.2/", allow=["127.0.0.0/8"])


def test_proxy_mode_skips_dns_but_not_literals_or_local_names() -> None:
    assert check("http://internal.firma.ru/", proxied=True).addresses == ()  # type: ignore[attr-defined]
    assert check("http://unknown-to-our-dns.ru/", proxied=True).host == "unknown-to-our-dns.ru"  # type: ignore[attr-defined]
    for url in ("http://127.0.0.1/", "http://10.0.0.1/", "http://localhost/", "http://router.lan/"):
        with pytest.raises(UnsafeTarget):
            check(url, proxied=True)


def test_idn_host_is_punycoded() -> None:
    DNS["xn--80aa2af5d.xn--p1ai"] = ["93.184.216.35"]
    assert check("http://калач.рф/").host == "xn--80aa2af5d.xn--p1ai"  # type: ignore[attr-defined]
