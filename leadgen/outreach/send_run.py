"""What one send run shares: its clock, pacing, tally, offer, router and one open mailer per route."""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from leadgen.clock import Clock
from leadgen.outreach.mailer import Mailer, SmtpMailer
from leadgen.outreach.message import Unsubscribe
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.permit_pool import PermitPool
from leadgen.outreach.router import MxResolver, Router
from leadgen.owners import process_owner
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from leadgen.unsubscribe.tokens import UnsubscribeLinks

MailerFactory = Callable[[str], Mailer]


def default_mailer_factory(settings: Settings) -> MailerFactory:
    """SmtpMailer per route; SMTP_CA_FILE adds a trusted CA (the sandbox sink's certificate)."""
    context = ssl.create_default_context()
    if settings.smtp_ca_file:
        context.load_verify_locations(cafile=str(settings.smtp_ca_file))

    def factory(route: str) -> Mailer:
        return SmtpMailer(settings.smtp_route(route), ssl_context=context)  # type: ignore[arg-type]

    return factory


def unsubscribe_for(settings: Settings, offer: OfferBrief) -> Unsubscribe:
    return Unsubscribe(
        mailto=settings.outreach_unsubscribe_mailto or offer.sender_email,
        links=UnsubscribeLinks.from_settings(settings),  # ConfigurationError: base URL without secret
    )


@dataclass
class Tally:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    suppressed: int = 0
    unknown: int = 0
    used_today: int = 0
    cap_reached: bool = False
    route_capped: bool = False
    stopped: str | None = None
    next_start: datetime | None = None  # the send window's next opening, as last seen
    due_left: int = 0
    errors: list[ItemError] = field(default_factory=list)
    routes_down: dict[str, str] = field(default_factory=dict)  # route -> why it cannot be used in this run

    @property
    def conversations(self) -> int:
        """Messages handed to an SMTP server (or failed in the attempt): each used its permit."""
        return self.sent + self.unknown + self.failed + self.retried


def item_error(reason: str, row_id: int | None, email: str | None, outcome: str | None = None) -> ItemError:
    """A message the run could not send: its row id, its address and what became of it."""
    return ItemError("message", reason, id=row_id, key=email or None, outcome=outcome)


class RunClock:
    """`now` as given (a datetime advanced by the sleeps taken, or a Clock called each time)."""

    def __init__(self, now: datetime | Clock) -> None:
        self._fixed = now if isinstance(now, datetime) else None
        self._clock = None if isinstance(now, datetime) else now
        self.slept = 0.0

    def __call__(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        assert self._fixed is not None
        return self._fixed + timedelta(seconds=self.slept)


@dataclass(frozen=True)
class Pace:
    """The pause between two messages: OUTREACH_SPACING_SECONDS plus up to OUTREACH_SPACING_JITTER_SECONDS."""

    settings: Settings
    rng: random.Random
    sleep: Callable[[float], None]

    @property
    def spaced(self) -> bool:
        return bool(self.settings.outreach_spacing_seconds or self.settings.outreach_spacing_jitter_seconds)

    def pause(self) -> float:
        """Sleep one spacing pause; its length."""
        seconds = self.settings.outreach_spacing_seconds + self.rng.uniform(
            0, self.settings.outreach_spacing_jitter_seconds
        )
        self.sleep(seconds)
        return seconds


@dataclass
class SendRun:
    """What every message of one send run shares: one offer, one router, one open mailer per route."""

    engine: Engine
    settings: Settings
    offer: OfferBrief
    clock: RunClock
    router: Router
    factory: MailerFactory
    unsubscribe: Unsubscribe
    domain: str  # of the Message-IDs
    owner: str
    batch_tag: str | None
    pace: Pace
    pool: PermitPool | None = None  # the run's rate-limit permits; None: no rate limit beyond the daily cap
    mailers: dict[str, Mailer] = field(default_factory=dict)  # one open mailer per route

    @classmethod
    def start(
        cls,
        engine: Engine,
        settings: Settings,
        offer: OfferBrief,
        clock: RunClock,
        pace: Pace,
        resolver: MxResolver | None,
        mailer_factory: MailerFactory | None,
        owner: str | None,
        batch_tag: str | None,
    ) -> SendRun:
        return cls(
            engine,
            settings,
            offer,
            clock,
            router=Router.from_settings(settings, resolver=resolver, clock=clock),
            factory=mailer_factory or default_mailer_factory(settings),
            unsubscribe=unsubscribe_for(settings, offer),
            domain=offer.sender_email.rpartition("@")[2] or "leadgen.invalid",
            owner=owner or process_owner(),
            batch_tag=batch_tag,
            pace=pace,
        )

    def close(self) -> None:
        for mailer in self.mailers.values():
            mailer.close()
