"""Crawler: SSRF on every hop, robots, redirects, size cap, content types, politeness — on mock transports
(no traffic leaves the process) and against the loopback site farm used as the crawler's proxy."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from leadgen.clock import ManualClock
from leadgen.contacts.crawler import Crawler
from leadgen.errors import FetchFailed, RobotsDisallowed, UnsafeTarget
from leadgen.settings import Settings
from leadgen_sandbox.site_farm import SiteFarm

PUBLIC = {"firma.ru": "93.184.216.34", "www.firma.ru": "93.184.216.34", "other.ru": "93.184.216.40"}
PRIVATE = {"evil.ru": "10.0.0.1", "rebind.ru": "127.0.0.1"}


async def resolver(host: str) -> list[str]:
    address = {**PUBLIC, **PRIVATE}.get(host)
    if address is None:
        raise OSError("unknown host")
    return [address]


def make_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {"crawl_per_host_delay_seconds": 0.0, "crawl_timeout_seconds": 5.0}
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[arg-type]


Handler = Callable[[httpx.Request], httpx.Response]


def run_crawler(handler: Handler, coro: Callable[[Crawler], object], **overrides: object) -> object:
    async def main() -> object:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with Crawler(client, make_settings(**overrides), resolver=resolver) as crawler:
            result = await coro(crawler)  # type: ignore[misc]
        await client.aclose()
        return result

    return asyncio.run(main())


def html(body: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/html; charset=utf-8", **headers}, text=body)


class Recorder:
    """A fake site: serves routes and records every request (so tests can prove nothing else was asked)."""

    def __init__(self, routes: dict[str, httpx.Response | Callable[[], httpx.Response]]) -> None:
        self.routes = routes
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        key = f"{request.url.host}{request.url.raw_path.decode()}"
        route = self.routes.get(key)
        if route is None:
            return httpx.Response(404, text="nope")
        return route() if callable(route) else route


# --- SSRF ---------------------------------------------------------------------------------------------------


def test_redirect_to_loopback_is_refused_before_any_request() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(302, headers={"location": "http://127.0.0.1:8080/admin"}),
        }
    )
    with pytest.raises(UnsafeTarget, match=r"127\.0\.0\.1"):
        run_crawler(site, lambda c: c.fetch("http://firma.ru/"))
    assert all("127.0.0.1" not in url for url in site.seen)
    assert site.seen == ["http://firma.ru/robots.txt", "http://firma.ru/"]


def test_host_resolving_to_private_address_is_never_contacted() -> None:
    site = Recorder({"evil.ru/": html("<p>secret</p>")})
    result = run_crawler(site, lambda c: c.crawl("http://evil.ru/"))
    assert site.seen == []
    assert result.error and "10.0.0.1" in result.error  # type: ignore[attr-defined]
    assert not result.reachable  # type: ignore[attr-defined]


def test_redirect_to_private_host_name_is_refused() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(301, headers={"location": "http://rebind.ru/"}),
        }
    )
    with pytest.raises(UnsafeTarget):
        run_crawler(site, lambda c: c.fetch("http://firma.ru/"))
    assert not any("rebind.ru" in url for url in site.seen)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://firma.ru/", "ftp://firma.ru/x"])
def test_redirect_to_other_schemes_is_refused(location: str) -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(302, headers={"location": location}),
        }
    )
    with pytest.raises(UnsafeTarget):
        run_crawler(site, lambda c: c.fetch("http://firma.ru/"))


def test_allowlisted_private_host_is_fetched() -> None:
    site = Recorder({"rebind.ru/robots.txt": httpx.Response(404), "rebind.ru/": html("<p>ok</p>")})
    page = run_crawler(
        site, lambda c: c.fetch("http://rebind.ru/"), crawl_allow_private_hosts=["127.0.0.0/8"]
    )
    assert page.status == 200  # type: ignore[attr-defined]


# --- redirects, statuses, content --------------------------------------------------------------------------


def test_redirect_chain_is_followed_to_the_final_url() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "www.firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(301, headers={"location": "https://www.firma.ru/"}),
            "www.firma.ru/": httpx.Response(302, headers={"location": "/ru/index.php"}),
            "www.firma.ru/ru/index.php": html("<p>Главная</p>"),
        }
    )
    page = run_crawler(site, lambda c: c.fetch("http://firma.ru/"))
    assert (page.url, page.redirects) == ("https://www.firma.ru/ru/index.php", 2)  # type: ignore[attr-defined]


def test_redirect_loop_and_cap() -> None:
    loop = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/a": httpx.Response(302, headers={"location": "/b"}),
            "firma.ru/b": httpx.Response(302, headers={"location": "/a"}),
        }
    )
    with pytest.raises(FetchFailed, match="loop"):
        run_crawler(loop, lambda c: c.fetch("http://firma.ru/a"))
    chain = Recorder({"firma.ru/robots.txt": httpx.Response(404)})
    for i in range(10):
        chain.routes[f"firma.ru/{i}"] = httpx.Response(302, headers={"location": f"/{i + 1}"})
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        run_crawler(chain, lambda c: c.fetch("http://firma.ru/0"), crawl_max_redirects=3)
    assert len([u for u in chain.seen if "robots" not in u]) == 4


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(404, text="not found"), "HTTP 404"),
        (httpx.Response(500, text="oops"), "HTTP 500"),
        (httpx.Response(200, headers={"content-type": "application/pdf"}, content=b"%PDF-1.4"), "not HTML"),
        (httpx.Response(200, headers={"content-type": "image/png"}, content=b"\x89PNG"), "not HTML"),
        (httpx.Response(200, content=b"\x00\x01binary"), "not HTML"),
    ],
)
def test_bad_pages(response: httpx.Response, message: str) -> None:
    site = Recorder({"firma.ru/robots.txt": httpx.Response(404), "firma.ru/": response})
    with pytest.raises(FetchFailed, match=message):
        run_crawler(site, lambda c: c.fetch("http://firma.ru/"))


def test_html_without_content_type_is_sniffed() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(200, content=b"<!DOCTYPE html><p>hi</p>"),
        }
    )
    assert run_crawler(site, lambda c: c.fetch("http://firma.ru/")).status == 200  # type: ignore[attr-defined]


def test_body_size_cap() -> None:
    big = b"<html><body><p>info@firma.ru</p>" + b"<p>" + b"x" * (3 * 1024 * 1024) + b"</p></body></html>"
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(200, headers={"content-type": "text/html"}, content=big),
        }
    )
    page = run_crawler(site, lambda c: c.fetch("http://firma.ru/"), crawl_max_body_bytes=64 * 1024)
    assert page.truncated and len(page.body) == 64 * 1024  # type: ignore[attr-defined]
    result = run_crawler(site, lambda c: c.crawl("http://firma.ru/"), crawl_max_body_bytes=64 * 1024)
    assert [c.value for c in result.contacts] == ["info@firma.ru"]  # type: ignore[attr-defined]


def test_cp1251_page_is_decoded() -> None:
    body = (
        "<html><body><p>Телефон: +7 (812) 309-45-67, почта: отдел@ — sales@firma.ru</p></body></html>".encode(
            "cp1251"
        )
    )
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": httpx.Response(
                200, headers={"content-type": "text/html; charset=windows-1251"}, content=body
            ),
        }
    )
    result = run_crawler(site, lambda c: c.crawl("http://firma.ru/"))
    assert {c.value for c in result.contacts} == {"+78123094567", "sales@firma.ru"}  # type: ignore[attr-defined]
    assert "Телефон" in result.site_text  # type: ignore[attr-defined]


# --- robots -------------------------------------------------------------------------------------------------


def test_robots_disallow_skips_pages_but_not_the_site() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(
                200,
                text="User-agent: *\nDisallow: /about\n\nUser-agent: leadgen\nDisallow: /contacts\nDisallow: /kontakty\n",
            ),
            "firma.ru/": html(
                '<a href="/kontakty/">Контакты</a><a href="/contacts">Contacts</a><p>+7 495 111-22-33</p>'
            ),
            "firma.ru/kontakty/": html("<p>hidden@firma.ru</p>"),
            "firma.ru/contacts": html("<p>hidden2@firma.ru</p>"),
            "firma.ru/about": html("<p>about@firma.ru</p>"),
        }
    )
    result = run_crawler(site, lambda c: c.crawl("http://firma.ru/"))
    assert {c.value for c in result.contacts} == {"+74951112233", "about@firma.ru"}  # type: ignore[attr-defined]
    assert "http://firma.ru/kontakty/" not in site.seen and "http://firma.ru/contacts" not in site.seen
    errors = [p.error for p in result.pages if p.error]  # type: ignore[attr-defined]
    assert any("robots.txt disallows" in e for e in errors)
    assert site.seen.count("http://firma.ru/robots.txt") == 1


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        (httpx.Response(404), True),
        (httpx.Response(403), True),
        (httpx.Response(503), False),
        (httpx.Response(200, text="User-agent: *\nDisallow: /\n"), False),
        (httpx.Response(200, text="User-agent: *\nAllow: /\n"), True),
        (httpx.Response(200, text="User-agent: leadgen\nDisallow: /\n"), False),
        (httpx.Response(200, text="User-agent: googlebot\nDisallow: /\n"), True),
    ],
)
def test_robots_status_rules(robots: httpx.Response, allowed: bool) -> None:
    site = Recorder({"firma.ru/robots.txt": robots, "firma.ru/": html("<p>ok</p>")})
    if allowed:
        run_crawler(site, lambda c: c.fetch("http://firma.ru/"))
    else:
        with pytest.raises(RobotsDisallowed):
            run_crawler(site, lambda c: c.fetch("http://firma.ru/"))
        assert "http://firma.ru/" not in site.seen


def test_robots_can_be_switched_off() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(200, text="User-agent: *\nDisallow: /\n"),
            "firma.ru/": html("<p>ok</p>"),
        }
    )
    run_crawler(site, lambda c: c.fetch("http://firma.ru/"), crawl_respect_robots=False)
    assert site.seen == ["http://firma.ru/"]


# --- candidate pages ----------------------------------------------------------------------------------------


def test_candidate_pages_and_page_limit() -> None:
    site = Recorder(
        {
            "firma.ru/robots.txt": httpx.Response(404),
            "firma.ru/": html(
                '<a href="/company/svyaz-s-nami.html">Связаться с нами</a> <a href="/catalog/">Каталог</a>'
                '<a href="https://other.ru/contacts">Партнёр</a> <a href="/files/price.pdf">Контакты (PDF)</a>'
                '<a href="mailto:x@firma.ru">x</a>'
            ),
            "firma.ru/company/svyaz-s-nami.html": html("<p>deep@firma.ru</p>"),
        }
    )
    result = run_crawler(site, lambda c: c.crawl("http://firma.ru/"), crawl_max_pages_per_company=3)
    fetched = [u for u in site.seen if "robots" not in u]
    assert fetched == [
        "http://firma.ru/",
        "http://firma.ru/company/svyaz-s-nami.html",
        "http://firma.ru/contacts",
    ]
    assert {c.value for c in result.contacts} == {"x@firma.ru", "deep@firma.ru"}  # type: ignore[attr-defined]


def test_https_falls_back_to_http() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            raise httpx.ConnectError("tls handshake failed")
        return html("<p>info@firma.ru</p>") if request.url.path == "/" else httpx.Response(404)

    result = run_crawler(handler, lambda c: c.crawl("firma.ru"))
    assert result.home_url == "http://firma.ru/"  # type: ignore[attr-defined]


# --- politeness and concurrency -----------------------------------------------------------------------------


def test_per_host_delay_uses_the_injected_clock() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(clock().timestamp())
        return html('<a href="/contacts">Контакты</a><a href="/about">О нас</a>')

    async def main() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        settings = make_settings(crawl_per_host_delay_seconds=2.5, crawl_max_pages_per_company=3)
        crawler = Crawler(
            client,
            settings,
            resolver=resolver,
            sleep=clock.async_sleep,
            monotonic=lambda: clock().timestamp(),
        )
        await crawler.crawl("http://firma.ru/")
        await client.aclose()

    asyncio.run(main())
    assert len(times) == 4  # robots + 3 pages
    assert all(b - a >= 2.5 for a, b in itertools.pairwise(times))
    assert clock.sleeps and all(s <= 2.5 for s in clock.sleeps)


def test_global_concurrency_bound_and_one_connection_per_host() -> None:
    in_flight: Counter[str] = Counter()
    peak = {"all": 0, "host": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight[request.url.host] += 1
        peak["all"] = max(peak["all"], sum(in_flight.values()))
        peak["host"] = max(peak["host"], in_flight[request.url.host])
        await asyncio.sleep(0.002)
        in_flight[request.url.host] -= 1
        return html("<p>+7 495 111-22-33</p>") if request.url.path != "/robots.txt" else httpx.Response(404)

    async def fake_dns(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        settings = make_settings(crawl_concurrency=3, crawl_max_pages_per_company=3)
        crawler = Crawler(client, settings, resolver=fake_dns)
        results = await crawler.crawl_many([f"http://site{i}.ru/" for i in range(9)])
        assert all(r.reachable for r in results)
        await client.aclose()

    asyncio.run(main())
    assert peak["host"] == 1
    assert 1 < peak["all"] <= 3


# --- against the site farm ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def farm() -> SiteFarm:
    with SiteFarm(seed=7, slow_seconds=6.0, huge_bytes=600_000) as running:
        yield running  # type: ignore[misc]


def test_farm_sites_precision_and_recall(farm: SiteFarm) -> None:
    domains = farm.domains(160)
    settings = make_settings(
        crawl_proxy_url=farm.proxy_url,
        crawl_timeout_seconds=3.0,  # slow farm sites take 6 s; 3 s keeps a loaded machine from timing out the rest
        crawl_max_body_bytes=200_000,
        crawl_concurrency=40,
    )

    async def main() -> list[object]:
        async with Crawler.build(settings) as crawler:
            return await crawler.crawl_many([f"https://{d}/" for d in domains])  # type: ignore[return-value]

    results = asyncio.run(main())
    tp = fp = fn = 0
    kinds: Counter[str] = Counter()
    for domain, result in zip(domains, results, strict=True):
        truth = farm.truth(domain)
        kinds[str(truth["kind"])] += 1
        got = {c.value for c in result.contacts if not c.web_studio}  # type: ignore[attr-defined]
        studio = {c.value for c in result.contacts if c.web_studio}  # type: ignore[attr-defined]
        expected = set(truth["emails"]) | set(truth["phones"])  # type: ignore[arg-type]
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
        assert studio == set(truth["studio_emails"]), domain  # type: ignore[arg-type]
        assert result.reachable == (truth["status"] != "unreachable"), (domain, truth["kind"], result.error)  # type: ignore[attr-defined]
    assert fp == 0
    assert tp / (tp + fn) >= 0.99
    assert len(kinds) >= 15  # the sample covers the farm's variety


def test_production_client_connects_to_the_checked_address(farm: SiteFarm) -> None:
    """No proxy: the name is resolved by the injected resolver only and the socket goes to that address."""
    domain = next(d for d in farm.domains(200) if farm.truth(d)["kind"] == "footer")
    lookups: list[str] = []

    async def loopback_dns(host: str) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    settings = make_settings(crawl_allow_private_hosts=["127.0.0.0/8"], crawl_timeout_seconds=5.0)

    async def main() -> object:
        async with Crawler.build(settings, resolver=loopback_dns) as crawler:
            assert crawler._pins is not None  # the pinning backend is installed (else no DNS-free run)
            return await crawler.crawl(f"http://{domain}:{farm.port}/")

    before = farm.hosts_seen.get(domain, 0)
    result = asyncio.run(main())
    truth = farm.truth(domain)
    assert {c.value for c in result.contacts if not c.web_studio} == set(truth["emails"]) | set(
        truth["phones"]
    )  # type: ignore[attr-defined, arg-type]
    assert farm.hosts_seen[domain] > before and set(lookups) == {domain}


@pytest.mark.parametrize("proxy", [None, "http://127.0.0.1:9"])
def test_build_shares_one_tls_context_across_pool_shards(proxy: str | None) -> None:
    """Each TLS context loads the CA bundle (about 1 MB resident): the shards must not build one each."""

    def contexts(client: httpx.AsyncClient) -> list[object]:
        transports = [client._transport, *client._mounts.values()]
        return [t._pool._ssl_context for t in transports if t is not None]

    async def main() -> set[int]:
        settings = make_settings(crawl_concurrency=64, crawl_proxy_url=proxy)
        async with Crawler.build(settings) as crawler:
            assert len(crawler._clients) > 1
            return {id(ctx) for client in crawler._clients for ctx in contexts(client)}

    assert len(asyncio.run(main())) == 1


# --- memory: large bodies -----------------------------------------------------------------------------------


class ChunkedBody(httpx.AsyncByteStream):
    """A streamed body of `size` bytes in 64 KiB chunks; counts bodies being read past LARGE_BODY_BYTES at once
    (`fail_at`: raise a read error after that many bytes)."""

    active: set[int] = set()
    most = 0

    def __init__(self, size: int, fail_at: int | None = None) -> None:
        self.size, self.fail_at = size, fail_at

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        from leadgen.contacts.crawler import LARGE_BODY_BYTES

        sent = 0
        chunk = b"<p>" + b"x" * (64 * 1024 - 3)
        try:
            while sent < self.size:
                if self.fail_at is not None and sent >= self.fail_at:
                    raise httpx.ReadError("connection reset")
                if sent > LARGE_BODY_BYTES:
                    ChunkedBody.active.add(id(self))
                    ChunkedBody.most = max(ChunkedBody.most, len(ChunkedBody.active))
                await asyncio.sleep(0)  # let other readers run between chunks
                yield chunk
                sent += len(chunk)
        finally:
            ChunkedBody.active.discard(id(self))

    async def aclose(self) -> None:
        ChunkedBody.active.discard(id(self))


def test_only_one_large_body_is_read_at_a_time() -> None:
    ChunkedBody.active, ChunkedBody.most = set(), 0
    hosts = ["firma.ru", "www.firma.ru", "other.ru"]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(200, headers={"content-type": "text/html"}, stream=ChunkedBody(900 * 1024))

    async def crawl_all(crawler: Crawler) -> list[object]:
        return list(await asyncio.gather(*(crawler.fetch(f"http://{host}/") for host in hosts)))

    pages = run_crawler(handler, crawl_all, crawl_max_body_bytes=600 * 1024)
    assert [len(p.body) for p in pages] == [600 * 1024] * 3  # type: ignore[attr-defined]
    assert ChunkedBody.most == 1


def test_a_failed_large_read_gives_its_slot_back() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        fail_at = 400 * 1024 if request.url.host == "firma.ru" else None
        return httpx.Response(
            200, headers={"content-type": "text/html"}, stream=ChunkedBody(700 * 1024, fail_at)
        )

    async def both(crawler: Crawler) -> object:
        with pytest.raises(FetchFailed, match="ReadError"):
            await crawler.fetch("http://firma.ru/")
        return await asyncio.wait_for(crawler.fetch("http://other.ru/"), 5)  # a lost slot would hang here

    page = run_crawler(handler, both)
    assert len(page.body) >= 700 * 1024  # type: ignore[attr-defined]
