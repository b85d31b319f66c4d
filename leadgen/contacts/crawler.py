"""Polite async crawler of company sites: SSRF guard → robots.txt → per-host gate → fetch → extract.

`Crawler(http, settings, ...)` takes an `httpx.AsyncClient` (tests pass one with a mock transport or the site
farm as proxy); `Crawler.build(settings, ...)` makes the production client (proxy, timeouts, limits, DNS
pinning). Every hop of a redirect chain is checked by the SSRF guard and fetched by hand (no automatic
redirects), bodies are streamed and capped, only HTML is kept, and charsets are decoded as browsers do.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from leadgen.contacts.candidates import candidate_pages, normalise_url
from leadgen.contacts.emails import load_suffix_list
from leadgen.contacts.extract import Contact, analyse_page
from leadgen.contacts.politeness import HostGate, Monotonic, Sleep
from leadgen.contacts.robots import RobotsPolicy, agent_token, policy_from_response
from leadgen.contacts.ssrf import Resolver, SsrfGuard, Target
from leadgen.errors import CrawlError, FetchFailed, RobotsDisallowed, UnsafeTarget
from leadgen.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = ("text/html", "application/xhtml+xml")
SITE_TEXT_CHARS = 8000
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
# Memory: every worker may be reading a body, and a body may be up to CRAWL_MAX_BODY_BYTES (2 MiB). Past
# LARGE_BODY_BYTES a read waits for one of LARGE_BODY_SLOTS before going on, so at most that many large bodies are
# in memory at once (measured on the site farm: 64 workers reading 2 MiB pages together held ~150 MB; real pages
# are a few tens of KB and never wait). The wait does not count against the request's timeout.
LARGE_BODY_BYTES = 256 * 1024
LARGE_BODY_SLOTS = 1
# Sites in progress per request slot: a site spends most of its time waiting out its per-host delay, so
# crawl_many keeps this many sites going per CRAWL_CONCURRENCY slot, and only requests on the wire hold a slot.
SITES_PER_SLOT = 4


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetched HTML page: final URL after redirects, status, content type, body (maybe truncated)."""

    url: str
    status: int
    content_type: str
    body: bytes
    truncated: bool = False
    redirects: int = 0


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """What happened to one candidate page (error is None on success)."""

    url: str
    final_url: str | None = None
    status: int | None = None
    error: str | None = None
    contacts: int = 0


@dataclass(frozen=True, slots=True)
class SiteCrawl:
    """The result of crawling one site: merged contacts (best first), page outcomes, home text."""

    start_url: str
    home_url: str | None
    contacts: list[Contact]
    pages: list[PageOutcome]
    site_text: str = ""
    title: str = ""
    error: str | None = None  # set when the home page could not be fetched at all

    @property
    def reachable(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class _Merged:
    best: dict[tuple[str, str], Contact] = field(default_factory=dict)
    studio: set[tuple[str, str]] = field(default_factory=set)

    def add(self, contacts: list[Contact]) -> None:
        for c in contacts:
            key = (c.kind, c.value)
            if c.web_studio:
                self.studio.add(key)
            old = self.best.get(key)
            if old is None or (not c.web_studio and (old.web_studio or c.quality > old.quality)):
                self.best[key] = c

    def result(self) -> list[Contact]:
        out = []
        for key, c in self.best.items():
            if key in self.studio and not c.web_studio and c.same_site is False:
                c = Contact(
                    c.kind, c.value, c.source, min(c.quality, 0.3), c.page_url, c.extension, True, False
                )
            out.append(c)
        return sorted(out, key=lambda c: -c.quality)


class PinnedBackend:
    """httpcore network backend that connects to the address the SSRF guard checked, not a fresh lookup."""

    def __init__(self, inner: Any, pins: dict[str, str]) -> None:
        self._inner = inner
        self.pins = pins

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return await self._inner.connect_tcp(self.pins.get(host, host), port, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Crawler:
    """Crawls company sites politely and extracts their contacts.

    >>> async with Crawler.build(settings) as crawler:
    ...     site = await crawler.crawl("https://romashka.ru/")
    """

    def __init__(
        self,
        http: httpx.AsyncClient | Sequence[httpx.AsyncClient],
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        sleep: Sleep | None = None,
        monotonic: Monotonic | None = None,
        pins: dict[str, str] | None = None,
        owns_client: bool = False,
    ) -> None:
        self._clients = [http] if isinstance(http, httpx.AsyncClient) else list(http)
        self._settings = settings
        self._owns_client = owns_client
        self._pins = pins
        self._guard = SsrfGuard(
            resolver=resolver,
            allow=settings.crawl_allow_private_hosts,
            proxied=bool(settings.crawl_proxy_url),
        )
        self._gate = HostGate(delay=settings.crawl_per_host_delay_seconds, sleep=sleep, monotonic=monotonic)
        load_suffix_list()  # before any fetch is in flight
        self._robots: dict[str, asyncio.Future[RobotsPolicy]] = {}
        self._agent = agent_token(settings.crawl_user_agent)
        self._monotonic = monotonic or time.monotonic
        self._large_bodies = asyncio.Semaphore(LARGE_BODY_SLOTS)
        self._in_flight = asyncio.Semaphore(settings.crawl_concurrency)  # requests on the wire

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        sleep: Sleep | None = None,
        monotonic: Monotonic | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Crawler:
        """A crawler with its own clients: proxy, timeouts, pool limits and DNS pinning from settings.

        Hosts are spread over several small connection pools (by a hash of the host name): httpcore scans its
        whole pool for every request, so one pool of hundreds of connections costs more CPU than the pages.
        All pools share one TLS context: each context loads the CA bundle (about 1 MB resident), and httpx
        would otherwise build two per client (its own transport and the proxy's).
        """
        shards = max(1, min(16, -(-settings.crawl_concurrency // 8)))
        per_shard = -(-settings.crawl_concurrency // shards)
        limits = httpx.Limits(max_connections=per_shard * 2 + 2, max_keepalive_connections=per_shard + 1)
        pins: dict[str, str] | None = None if transport is not None or settings.crawl_proxy_url else {}
        tls = httpx.create_ssl_context(trust_env=False)
        clients = []
        for _ in range(shards):
            shard_transport = transport
            if transport is None and not settings.crawl_proxy_url:
                http_transport = httpx.AsyncHTTPTransport(verify=tls, limits=limits, trust_env=False)
                pool = getattr(http_transport, "_pool", None)
                if pool is not None and hasattr(pool, "_network_backend") and pins is not None:
                    backend = PinnedBackend(pool._network_backend, pins)
                    pool._network_backend = backend
                else:
                    pins = None
                shard_transport = http_transport
            clients.append(
                httpx.AsyncClient(
                    transport=shard_transport,
                    proxy=settings.crawl_proxy_url if shard_transport is None else None,
                    timeout=httpx.Timeout(settings.crawl_timeout_seconds),
                    limits=limits,
                    verify=tls,
                    headers={
                        "User-Agent": settings.crawl_user_agent,
                        "Accept": ACCEPT,
                        "Accept-Language": "ru,en;q=0.5",
                    },
                    follow_redirects=False,
                    trust_env=False,
                )
            )
        return cls(
            clients,
            settings,
            resolver=resolver,
            sleep=sleep,
            monotonic=monotonic,
            pins=pins,
            owns_client=True,
        )

    async def __aenter__(self) -> Crawler:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            for client in self._clients:
                await client.aclose()

    def _client_for(self, host: str) -> httpx.AsyncClient:
        return self._clients[zlib.crc32(host.encode()) % len(self._clients)]

    # --- one request --------------------------------------------------------------------------------------

    async def _request(self, target: Target, *, cap: int) -> tuple[int, httpx.Headers, bytes, bool]:
        if self._pins is not None and target.addresses:
            self._pins[target.host] = target.addresses[0]
        headers = {"User-Agent": self._settings.crawl_user_agent, "Accept": ACCEPT}
        client = self._client_for(target.host)
        request = client.build_request("GET", target.url, headers=headers)
        async with self._gate.slot(target.host), self._in_flight:
            try:
                async with asyncio.timeout(self._settings.crawl_timeout_seconds) as deadline:
                    response = await client.send(request, stream=True, follow_redirects=False)
                    large = _LargeBodies(self._large_bodies, deadline)
                    try:
                        body, truncated = await _read_capped(response, cap, html_only=True, large=large)
                    finally:
                        try:
                            await response.aclose()
                        finally:  # even when the timeout fires in aclose: a lost slot would stall every large body
                            # Released here, not earlier: from now until the caller has analysed the body (no
                            # await in between), no other large body can be read.
                            large.release()
            except TimeoutError as exc:
                raise FetchFailed(
                    f"timeout after {self._settings.crawl_timeout_seconds:g}s: {target.url}"
                ) from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{type(exc).__name__}: {exc or 'network error'} ({target.url})") from exc
            except (
                httpx.InvalidURL
            ) as exc:  # e.g. a `Location: javascript:...` httpx cannot turn into a request
                raise FetchFailed(f"unusable URL from {target.url}: {exc}") from exc
        return response.status_code, response.headers, body, truncated

    async def fetch(self, url: str, *, check_robots: bool = True) -> Fetched:
        """GET an HTML page, following at most CRAWL_MAX_REDIRECTS redirects, each hop checked (SSRF, robots)."""
        seen: set[str] = set()
        current = url
        for hop in range(self._settings.crawl_max_redirects + 1):
            target = await self._guard.check(current)
            if check_robots and self._settings.crawl_respect_robots:
                policy = await self._robots_policy(target)
                if policy.unreachable:
                    raise FetchFailed(policy.unreachable)
                if not policy.allows(current, self._agent):
                    raise RobotsDisallowed(f"robots.txt disallows {current}")
            seen.add(normalise_url(current))
            status, headers, body, truncated = await self._request(
                target, cap=self._settings.crawl_max_body_bytes
            )
            if status in REDIRECT_STATUSES:
                location = headers.get("location")
                if not location:
                    raise FetchFailed(f"redirect without Location from {current}")
                nxt = urljoin(current, location.strip())
                if normalise_url(nxt) in seen:
                    raise FetchFailed(f"redirect loop at {nxt}")
                current = nxt
                continue
            if status >= 400:
                raise FetchFailed(f"HTTP {status} for {current}")
            content_type = headers.get("content-type", "")
            if not _is_html(content_type, body):
                raise FetchFailed(f"not HTML ({content_type or 'no content type'}): {current}")
            return Fetched(current, status, content_type, body, truncated, hop)
        raise FetchFailed(f"more than {self._settings.crawl_max_redirects} redirects from {url}")

    async def _robots_policy(self, target: Target) -> RobotsPolicy:
        origin = f"{target.scheme}://{urlsplit(target.url).netloc.lower()}"
        future = self._robots.get(origin)
        if future is None:
            future = self._robots[origin] = asyncio.get_running_loop().create_future()
            try:
                policy = await self._load_robots(origin)
            except Exception:
                policy = RobotsPolicy(deny_all=True)
            self._gate.set_delay(
                target.host,
                policy.delay(
                    floor=self._settings.crawl_per_host_delay_seconds,
                    cap=self._settings.crawl_max_crawl_delay_seconds,
                ),
            )
            future.set_result(policy)
        return await asyncio.shield(future)

    async def _load_robots(self, origin: str) -> RobotsPolicy:
        url = origin + "/robots.txt"
        try:
            for _ in range(5):  # RFC 9309: follow at least five redirects
                target = await self._guard.check(url)
                status, headers, body, _ = await self._robots_request(target)
                if status in REDIRECT_STATUSES and headers.get("location"):
                    url = urljoin(url, headers["location"])
                    continue
                return policy_from_response(status, body, agent=self._agent)
        except UnsafeTarget:
            return RobotsPolicy(deny_all=True)
        except FetchFailed as exc:
            return RobotsPolicy(deny_all=True, unreachable=str(exc))
        return RobotsPolicy(allow_all=True)

    async def _robots_request(self, target: Target) -> tuple[int, httpx.Headers, bytes, bool]:
        if self._pins is not None and target.addresses:
            self._pins[target.host] = target.addresses[0]
        client = self._client_for(target.host)
        request = client.build_request(
            "GET", target.url, headers={"User-Agent": self._settings.crawl_user_agent}
        )
        async with self._gate.slot(target.host), self._in_flight:
            try:
                async with asyncio.timeout(self._settings.crawl_timeout_seconds):
                    response = await client.send(request, stream=True, follow_redirects=False)
                    try:
                        body, truncated = await _read_capped(response, 500 * 1024, html_only=False)
                    finally:
                        await response.aclose()
            except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchFailed(f"cannot fetch {target.url}: {type(exc).__name__}") from exc
        return response.status_code, response.headers, body, truncated

    # --- one site -------------------------------------------------------------------------------------------

    async def crawl(self, start: str) -> SiteCrawl:
        """Fetch the home page, then up to CRAWL_MAX_PAGES_PER_COMPANY - 1 contact-like pages; merge contacts.

        Each page's body and parse are dropped once its contacts are merged (the home page's once its text,
        title and candidate links are taken), so a site in progress holds no page while the next is fetched.
        """
        pages: list[PageOutcome] = []
        home = await self._fetch_home(start, pages)
        if home is None:
            return SiteCrawl(
                start, None, [], pages, error=pages[-1].error if pages else "home page unreachable"
            )
        merged = _Merged()
        home_url, site_text, title, candidates = self._take_home(home, start, merged, pages)
        del home  # the home page's body and parse are not kept while the other pages are fetched
        visited = {normalise_url(home_url), normalise_url(start)}
        limit = self._settings.crawl_max_pages_per_company - 1
        for url in candidates:
            if limit <= 0:
                break
            if normalise_url(url) in visited:
                continue
            visited.add(normalise_url(url))
            limit -= 1
            try:
                page = await self.fetch(url)
            except CrawlError as exc:
                pages.append(PageOutcome(url, error=str(exc)))
                continue
            visited.add(normalise_url(page.url))
            found = analyse_page(
                page.body, base_url=page.url, content_type=page.content_type, want_links=False
            ).contacts
            merged.add(found)
            pages.append(PageOutcome(url, page.url, page.status, contacts=len(found)))
            del page, found
        return SiteCrawl(start, home_url, merged.result(), pages, site_text, title)

    async def _fetch_home(self, start: str, pages: list[PageOutcome]) -> Fetched | None:
        """The home page (https first, then http for a bare domain); each failed try recorded in `pages`."""
        for url in _home_candidates(start):
            try:
                return await self.fetch(url)
            except CrawlError as exc:
                pages.append(PageOutcome(url, error=str(exc)))
                if isinstance(exc, UnsafeTarget | RobotsDisallowed):
                    break
        return None

    def _take_home(
        self, home: Fetched, start: str, merged: _Merged, pages: list[PageOutcome]
    ) -> tuple[str, str, str, list[str]]:
        """Analyse the home page: merge its contacts; its URL, site text, title and the candidate pages."""
        analysis = analyse_page(home.body, base_url=home.url, content_type=home.content_type)
        merged.add(analysis.contacts)
        pages.append(PageOutcome(home.url, home.url, home.status, contacts=len(analysis.contacts)))
        visited = {normalise_url(home.url), normalise_url(start)}
        limit = self._settings.crawl_max_pages_per_company - 1
        candidates = candidate_pages(home.url, analysis.links, limit=limit + len(visited))
        return home.url, analysis.text[:SITE_TEXT_CHARS], analysis.title[:500], candidates

    async def crawl_many(
        self,
        starts: Iterable[str],
        *,
        on_done: Callable[[str, SiteCrawl], Awaitable[None] | None] | None = None,
        collect: bool = True,
    ) -> list[SiteCrawl]:
        """Crawl sites, at most CRAWL_CONCURRENCY requests at once; results in the order of `starts` (none if not
        `collect`).

        SITES_PER_SLOT x CRAWL_CONCURRENCY workers pull start URLs one at a time (a worker waiting out a host's
        delay holds no request slot), so memory stays bounded by the concurrency, not the batch size.
        """
        queue = list(enumerate(starts))
        results: list[SiteCrawl | None] = [None] * len(queue) if collect else []
        feed = iter(queue)

        async def worker() -> None:
            for index, start in feed:
                result = await self.crawl(start)
                if collect:
                    results[index] = result
                if on_done is not None:
                    maybe = on_done(start, result)
                    if maybe is not None:
                        await maybe

        workers = min(self._settings.crawl_concurrency * SITES_PER_SLOT, len(queue))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [r for r in results if r is not None]


def _home_candidates(start: str) -> list[str]:
    """The start URL as given; a bare domain is tried as https:// then http://; https falls back to http."""
    start = start.strip()
    if "://" not in start:
        return [f"https://{start}/", f"http://{start}/"]
    if start.lower().startswith("https://"):
        return [start, "http://" + start[8:]]
    return [start]


def _is_html(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media:
        return media in HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head


class _LargeBodies:
    """The slot a body must hold to grow past LARGE_BODY_BYTES; the wait for it extends the request's deadline."""

    def __init__(self, slots: asyncio.Semaphore, deadline: asyncio.Timeout) -> None:
        self._slots = slots
        self._deadline = deadline
        self.held = False

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        started, when = loop.time(), self._deadline.when()
        self._deadline.reschedule(None)  # the wait is the crawler's doing, not the server's
        try:
            await self._slots.acquire()
            self.held = True
        finally:
            if when is not None:
                self._deadline.reschedule(when + loop.time() - started)

    def release(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


async def _read_capped(
    response: httpx.Response, cap: int, *, html_only: bool, large: _LargeBodies | None = None
) -> tuple[bytes, bool]:
    """Read at most `cap` bytes of a streamed body; non-HTML bodies (when html_only) are not read at all.

    With `large`, a body that grows past LARGE_BODY_BYTES takes one of the crawler's large-body slots (the caller
    releases it once the body is used), so only a few large bodies are buffered at once.
    """
    if html_only and response.status_code < 300:
        media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and media not in HTML_TYPES:
            return b"", False
    if response.status_code in REDIRECT_STATUSES:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if large is not None and not large.held and size + len(chunk) > LARGE_BODY_BYTES:
            await large.acquire()
        if size + len(chunk) >= cap:  # trim the last chunk, so the body is copied once, not twice
            chunks.append(chunk[: cap - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False
