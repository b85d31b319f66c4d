"""robots.txt through Protego: realistic files (Bitrix, Tilda, WordPress, Yandex-specific groups), wildcards,
longest match, Allow/Disallow precedence, Crawl-delay capped and applied to the per-host gate."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import httpx
import pytest

from leadgen.clock import ManualClock
from leadgen.contacts.crawler import Crawler
from leadgen.contacts.politeness import HostGate
from leadgen.contacts.robots import policy_from_response
from leadgen.settings import Settings

# A 1C-Bitrix shop as it ships (the Host and Clean-param lines are Yandex extensions).
BITRIX = b"""User-agent: *
Disallow: /bitrix/
Disallow: /personal/
Disallow: /auth/
Disallow: /*?*
Disallow: /*index.php$
Disallow: /search/
Allow: /bitrix/components/
Allow: /bitrix/cache/
Allow: /bitrix/js/
Allow: /*.css
Allow: /*.js
Allow: /kontakty/?region=*

User-agent: Yandex
Disallow: /bitrix/
Disallow: /search/
Clean-param: utm_source&utm_medium&utm_campaign
Crawl-delay: 2

Host: https://stroy-market.ru
Sitemap: https://stroy-market.ru/sitemap.xml
"""

# Tilda's default file plus a site owner's group for us, with a long Crawl-delay.
TILDA_WITH_GROUP = b"""\xef\xbb\xbfUser-agent: *
Disallow: /tilda/form
Disallow: /tilda/*/*.html$
Allow: /

User-Agent: LeadGen
Crawl-delay: 30
Disallow: /members/
Allow: /members/contacts
"""

WORDPRESS = b"""# WordPress default
User-agent: *
Disallow: /wp-admin/
Allow: /wp-admin/admin-ajax.php
Disallow: /page
Allow: /pages
Request-rate: 1/5
"""


@pytest.mark.parametrize(
    ("body", "path", "allowed"),
    [
        (BITRIX, "/kontakty/", True),
        (BITRIX, "/bitrix/admin/", False),
        (BITRIX, "/bitrix/js/main/core.js", True),  # longer Allow beats the shorter Disallow
        (BITRIX, "/catalog/?sort=price", False),  # /*?* wildcard
        (BITRIX, "/kontakty/?region=msk", True),  # the longer Allow with a wildcard wins
        (BITRIX, "/index.php", False),  # `$` anchors the end
        (BITRIX, "/index.php5", True),
        (BITRIX, "/personal/cart/", False),
        (TILDA_WITH_GROUP, "/members/list", False),  # our own group replaces `*` entirely
        (TILDA_WITH_GROUP, "/members/contacts", True),
        (TILDA_WITH_GROUP, "/tilda/form", True),  # the `*` group does not apply to us
        (WORDPRESS, "/wp-admin/admin-ajax.php", True),
        (WORDPRESS, "/wp-admin/options.php", False),
        (WORDPRESS, "/page/2", False),
        (WORDPRESS, "/pages/contacts", True),  # Allow /pages is longer than Disallow /page
        (b"User-agent: *\nDisallow: /a\nAllow: /a\n", "/a", True),  # equal length: Allow wins
        (b"User-agent: *\nDisallow: /\n", "/", False),
        (b"User-agent: *\nDisallow:\n", "/kontakty", True),  # empty Disallow allows everything
        (b"User-agent: *\nDisallow: /%D0%BA%D0%BE%D0%BD%D1%82%D0%B0%D0%BA%D1%82%D1%8B\n", "/контакты", False),
    ],
)
def test_matching_rules(body: bytes, path: str, allowed: bool) -> None:
    policy = policy_from_response(200, body, agent="leadgen")
    assert policy.allows("https://stroy-market.ru" + path, "leadgen") is allowed


@pytest.mark.parametrize(
    ("body", "delay"),
    [
        (BITRIX, None),  # the Crawl-delay is in the Yandex group, not ours
        (TILDA_WITH_GROUP, 30.0),
        (WORDPRESS, 5.0),  # Request-rate 1/5: one request per five seconds
        (b"User-agent: *\nCrawl-delay: 0.5\n", 0.5),
    ],
)
def test_crawl_delay_of_our_group(body: bytes, delay: float | None) -> None:
    assert policy_from_response(200, body, agent="leadgen").crawl_delay == delay


def test_crawl_delay_is_capped_and_never_below_the_floor() -> None:
    policy = policy_from_response(200, TILDA_WITH_GROUP, agent="leadgen")
    assert policy.delay(floor=1.0, cap=10.0) == 10.0
    assert policy.delay(floor=1.0, cap=60.0) == 30.0
    fast = policy_from_response(200, b"User-agent: *\nCrawl-delay: 0.2\n", agent="leadgen")
    assert fast.delay(floor=1.0, cap=10.0) == 1.0
    assert policy_from_response(404, b"", agent="leadgen").delay(floor=1.0, cap=10.0) == 1.0


def test_statuses() -> None:
    assert policy_from_response(404, b"", agent="leadgen").allows("http://a.ru/x", "leadgen")
    assert not policy_from_response(503, b"", agent="leadgen").allows("http://a.ru/x", "leadgen")
    assert not policy_from_response(None, b"", agent="leadgen").allows("http://a.ru/x", "leadgen")


def test_host_gate_override() -> None:
    gate = HostGate(delay=1.0)
    gate.set_delay("a.ru", 5.0)
    gate.set_delay("b.ru", 0.1)  # below the default: the default stays
    assert (gate.delay_for("a.ru"), gate.delay_for("b.ru"), gate.delay_for("c.ru")) == (5.0, 1.0, 1.0)


@pytest.mark.parametrize(("cap", "spacing"), [(10.0, 10.0), (60.0, 30.0)])
def test_crawler_spaces_requests_by_the_capped_crawl_delay(cap: float, spacing: float) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(clock().timestamp())
        if request.url.path == "/robots.txt":
            return httpx.Response(200, content=TILDA_WITH_GROUP)
        return httpx.Response(
            200,
            headers={"content-type": "text/html"},
            text='<a href="/contacts">Контакты</a><a href="/about">О нас</a>',
        )

    async def resolver(host: str) -> list[str]:
        return ["93.184.216.34"]

    async def main() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            crawl_per_host_delay_seconds=1.0,
            crawl_max_crawl_delay_seconds=cap,
            crawl_max_pages_per_company=3,
        )
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
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 1.0  # the robots.txt request itself is spaced by the default delay
    assert all(spacing <= g < spacing + 1 for g in gaps[1:])
