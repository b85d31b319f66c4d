"""robots.txt policy per site origin, parsed with Protego (RFC 9309 matching, status handling, Crawl-delay)."""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """What a site's robots.txt allows for our user agent; `allow_all`/`deny_all` short-circuit parsing.

    Matching is Protego's (RFC 9309): the group of the most specific user agent, `*` and `$` wildcards,
    the longest matching rule wins and Allow wins a tie. `crawl_delay` is the group's Crawl-delay (or the
    interval of its Request-rate), in seconds, uncapped; the crawler caps it.
    """

    parser: Protego | None = None
    allow_all: bool = False
    deny_all: bool = False
    crawl_delay: float | None = None
    unreachable: str | None = None  # network error fetching robots.txt: the site itself is unreachable

    def allows(self, url: str, agent: str) -> bool:
        if self.deny_all:
            return False
        if self.allow_all or self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, agent))

    def delay(self, *, floor: float, cap: float) -> float:
        """Seconds between two requests to the site: the configured floor, raised to Crawl-delay up to `cap`."""
        if self.crawl_delay is None:
            return floor
        return max(floor, min(self.crawl_delay, cap))


def _delay_of(parser: Protego, agent: str) -> float | None:
    delay = parser.crawl_delay(agent)
    if delay is not None:
        return max(0.0, float(delay))
    rate = parser.request_rate(agent)
    if rate is not None and rate.requests:
        return max(0.0, rate.seconds / rate.requests)
    return None


def policy_from_response(status: int | None, body: bytes, *, agent: str) -> RobotsPolicy:
    """RFC 9309: 2xx is parsed, 4xx (no robots.txt) allows everything, 5xx or no answer disallows everything."""
    if status is None or status >= 500:
        return RobotsPolicy(deny_all=True)
    if status >= 400:
        return RobotsPolicy(allow_all=True)
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8-sig", errors="replace")
    parser = Protego.parse(text)
    return RobotsPolicy(parser=parser, crawl_delay=_delay_of(parser, agent))


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: `leadgen/0.1 (+...)` -> `leadgen`."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"
