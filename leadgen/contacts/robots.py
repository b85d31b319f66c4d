"""robots.txt policy per site origin, parsed with urllib.robotparser (RFC 9309 status handling)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """What a site's robots.txt allows for our user agent; `allow_all`/`deny_all` short-circuit parsing."""

    parser: RobotFileParser | None = None
    allow_all: bool = False
    deny_all: bool = False
    crawl_delay: float | None = None
    unreachable: str | None = None  # network error fetching robots.txt: the site itself is unreachable

    def allows(self, url: str, agent: str) -> bool:
        if self.deny_all:
            return False
        if self.allow_all or self.parser is None:
            return True
        return self.parser.can_fetch(agent, url)


def policy_from_response(status: int | None, body: bytes, *, agent: str) -> RobotsPolicy:
    """RFC 9309: 2xx is parsed, 4xx (no robots.txt) allows everything, 5xx or no answer disallows everything."""
    if status is None or status >= 500:
        return RobotsPolicy(deny_all=True)
    if status >= 400:
        return RobotsPolicy(allow_all=True)
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    delay = parser.crawl_delay(agent)
    return RobotsPolicy(parser=parser, crawl_delay=float(delay) if delay is not None else None)


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: `leadgen/0.1 (+...)` -> `leadgen`."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"
