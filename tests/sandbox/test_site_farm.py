"""Site farm: deterministic sites by Host header, proxy (absolute-form) requests, ground truth, cheap scale."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from leadgen_sandbox.farm_sites import KINDS, farm_domains, site_for
from leadgen_sandbox.site_farm import SiteFarm


@pytest.fixture(scope="module")
def farm() -> SiteFarm:
    with SiteFarm(seed=11, slow_seconds=0.2, huge_bytes=200_000) as running:
        yield running  # type: ignore[misc]


def _raw(farm: SiteFarm, request: bytes) -> bytes:
    with socket.create_connection((farm.host, farm.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_proxy_and_host_header_forms_serve_the_same_site(farm: SiteFarm) -> None:
    domain = next(d for d in farm.domains(100) if farm.truth(d)["kind"] == "footer")
    with httpx.Client(proxy=farm.proxy_url) as client:
        via_proxy = client.get(f"http://{domain}/")
    direct = httpx.get(f"{farm.url}/", headers={"Host": domain})
    assert via_proxy.status_code == direct.status_code == 200
    assert via_proxy.content == direct.content
    assert farm.hosts_seen[domain] >= 2


def test_truth_endpoint_matches_truth(farm: SiteFarm) -> None:
    domain = farm.domains(3)[1]
    with httpx.Client(proxy=farm.proxy_url) as client:
        served = client.get(f"http://{domain}/__farm__/truth.json").json()
    assert served == json.loads(json.dumps(farm.truth(domain)))
    assert set(served) >= {"domain", "kind", "status", "emails", "phones", "studio_emails"}


def test_connect_is_refused_so_https_fails_through_the_farm(farm: SiteFarm) -> None:
    response = _raw(farm, b"CONNECT firma.ru:443 HTTP/1.1\r\nHost: firma.ru:443\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 405")


def test_bad_request_line(farm: SiteFarm) -> None:
    assert _raw(farm, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_generation_is_deterministic_and_keyed_by_seed() -> None:
    domains = farm_domains(50, seed=2)
    assert domains == farm_domains(50, seed=2) != farm_domains(50, seed=3)
    site_for.cache_clear()
    first = [site_for(d, seed=2) for d in domains]
    site_for.cache_clear()
    assert first == [site_for(d, seed=2) for d in domains]


def test_five_thousand_sites_are_cheap_and_varied() -> None:
    start = time.perf_counter()
    domains = farm_domains(5000, seed=9)
    kinds = {site_for(d, seed=9).kind for d in domains}
    assert len(set(domains)) == 5000
    assert kinds == {kind for kind, _ in KINDS}
    assert any(d.startswith("xn--") for d in domains)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    ("kind", "status", "ctype"),
    [
        ("error404", 404, "text/html"),
        ("error500", 500, "text/html"),
        ("non_html", 200, "application/pdf"),
        ("redirect_loop", 302, "text/html"),
        ("redirect_chain", 301, "text/html"),
        ("cp1251", 200, "text/html"),
    ],
)
def test_hostile_kinds(farm: SiteFarm, kind: str, status: int, ctype: str) -> None:
    domain = next(d for d in farm.domains(2000) if farm.truth(d)["kind"] == kind)
    with httpx.Client(proxy=farm.proxy_url) as client:
        response = client.get(f"http://{domain}/")
    assert response.status_code == status
    assert response.headers["content-type"].startswith(ctype)
    if kind == "cp1251":
        assert b"windows-1251" in response.content and "Главная".encode("cp1251") in response.content


def test_huge_and_slow_pages(farm: SiteFarm) -> None:
    huge = next(d for d in farm.domains(2000) if farm.truth(d)["kind"] == "huge")
    slow = next(d for d in farm.domains(2000) if farm.truth(d)["kind"] == "slow")
    with httpx.Client(proxy=farm.proxy_url, timeout=5) as client:
        assert len(client.get(f"http://{huge}/").content) > 200_000
        started = time.perf_counter()
        client.get(f"http://{slow}/")
        assert time.perf_counter() - started >= 0.2


def test_robots_kinds(farm: SiteFarm) -> None:
    blocked = next(d for d in farm.domains(2000) if farm.truth(d)["kind"] == "robots_all")
    with httpx.Client(proxy=farm.proxy_url) as client:
        assert "Disallow: /" in client.get(f"http://{blocked}/robots.txt").text
