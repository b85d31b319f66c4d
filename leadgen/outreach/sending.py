"""Stage `send_queued`: inside the send window, claim rows one by one under the daily cap and deliver them."""

from __future__ import annotations

import random
import ssl
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from leadgen.clock import Clock
from leadgen.db import read_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import (
    ClaimLost,
    ConfigurationError,
    RouteUnavailable,
    SmtpOutcomeUnknown,
    SmtpPermanentError,
    SmtpSendError,
    SmtpTemporaryError,
)
from leadgen.outreach.idn import NEEDS_SMTPUTF8, SmtpUtf8Unsupported, smtp_address
from leadgen.outreach.mailer import DryRunMailer, Mailer, SmtpMailer
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen.outreach.offer import OfferBrief, load_offer
from leadgen.outreach.orphans import release_orphaned_messages
from leadgen.outreach.outbox import (
    OutboxItem,
    Recovered,
    claim_next,
    day_bounds,
    mark_data_started,
    mark_permanent,
    mark_sent,
    mark_skipped,
    mark_temporary,
    mark_unknown,
    recover_rows,
    release_claim,
    release_unsent,
    reserve_route,
    route_cap,
    row_opt_out_reason,
    row_third_party_reason,
    used_today,
)
from leadgen.outreach.outcomes import SendReport
from leadgen.outreach.permits import NO_PERMIT, Permits
from leadgen.outreach.recipients import check_syntax
from leadgen.outreach.router import MxResolver, RouteDecision, Router
from leadgen.outreach.settle import SentSearcher, settle_unknown
from leadgen.outreach.settle import tally as tally_settled
from leadgen.owners import OwnerAlive, process_owner
from leadgen.settings import Settings
from leadgen.stage_report import ItemError
from leadgen.unsubscribe.tokens import UnsubscribeLinks
from leadgen.windows import DailyWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MailerFactory = Callable[[str], Mailer]


def send_window_state(settings: Settings, now: datetime) -> tuple[bool, datetime]:
    """(is the send window open at `now`, its next opening) for OUTREACH_SEND_WINDOW on OUTREACH_SEND_WEEKDAYS."""
    window = DailyWindow.parse(settings.outreach_send_window, settings.tz)
    allowed = {WEEKDAYS.index(d.strip().lower()[:3]) for d in settings.outreach_send_weekdays}
    probe = now
    for _ in range(9):
        opens, closes = window.occurrence(probe)
        if opens.astimezone(settings.tz).weekday() in allowed:
            if opens <= now < closes:
                return True, now
            if opens > now:
                return False, opens
        probe = closes
    return False, now + timedelta(days=7)


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
class _Tally:
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


def _error(reason: str, row_id: int | None, email: str | None, outcome: str | None = None) -> ItemError:
    """A message the run could not send: its row id, its address and what became of it."""
    return ItemError("message", reason, id=row_id, key=email or None, outcome=outcome)


class _Clock:
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


def send_queued(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    now: datetime | Clock,
    mailer_factory: MailerFactory | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
    resolver: MxResolver | None = None,
    rng: random.Random | None = None,
    offer: OfferBrief | None = None,
    settle: bool = True,
    searcher: SentSearcher | None = None,
    owner: str | None = None,
    owner_alive: OwnerAlive | None = None,
    batch_tag: str | None = None,
    permits: Permits | None = None,
    permit_timeout: float = 60.0,
) -> SendReport:
    """Send up to `limit` queued messages, one claim transaction each, never more than the daily cap.

    Once per run: rows of a gone owner (with `owner_alive`; leadgen.outreach.orphans) and rows in `sending` for
    longer than OUTREACH_STALE_SENDING_MINUTES are recovered (requeued before their DATA checkpoint, else
    `unknown`), then, with `settle`, `unknown` rows are settled from their route's sent folder (`searcher`,
    default IMAP). One offer, one router and one open mailer per route then serve every message; a route that
    cannot be used (connection, TLS, AUTH) is not tried again, and a message no route can take goes back to
    `queued` untouched and stops the run, `stopped_reason` naming the setting to check.

    With `permits` (leadgen.outreach.permits: Prefect's `email-daily`), one permit is taken right before each
    claim (waiting up to `permit_timeout` s; none in time stops the run) and given back at once when no SMTP
    conversation used it; none is asked for when nothing is due or the cap is used. So a killed sender holds
    at most the permit of the message in flight. `now` is an aware datetime (advanced by the spacing sleeps)
    or a clock; spacing is OUTREACH_SPACING_SECONDS plus up to OUTREACH_SPACING_JITTER_SECONDS. Claims record
    `owner` (default: this process). With `batch_tag`, only that batch's messages are recovered and sent (the
    cap counts all). The report says why the run stopped and how many due messages it left (`due_left`).
    """
    offer = offer or load_offer(settings.outreach_offer_file)
    clock = _Clock(now)
    if dry_run:
        return _dry_run(
            engine, settings, offer, limit=limit, now=clock(), resolver=resolver, batch_tag=batch_tag
        )
    recovery = recover_sending(engine, settings, clock, owner_alive, batch_tag)
    settled = _settle(engine, settings, clock, searcher, batch_tag) if settle else tally_settled([])
    tally = _Tally()
    is_open, tally.next_start = send_window_state(settings, clock())
    if not is_open:
        tally.stopped = "outside the send window"
        return _report(tally, recovery, settled, window_open=False)
    _check_sender_addresses(settings, offer)
    pace = _Pace(settings, rng or random.Random(), sleep or _time.sleep)
    run = _Run.start(engine, settings, offer, clock, pace, resolver, mailer_factory, owner, batch_tag)
    run.permits, run.permit_timeout = permits, permit_timeout
    try:
        _send_loop(run, tally, limit=limit)
    finally:
        run.close()
    tally.due_left = sendable_now(engine, settings, clock(), batch_tag).due
    return _report(tally, recovery, settled)


@dataclass(frozen=True)
class _Pace:
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
class _Run:
    """What every message of one send run shares: one offer, one router, one open mailer per route."""

    engine: Engine
    settings: Settings
    offer: OfferBrief
    clock: _Clock
    router: Router
    factory: MailerFactory
    unsubscribe: Unsubscribe
    domain: str  # of the Message-IDs
    owner: str
    batch_tag: str | None
    pace: _Pace
    permits: Permits | None = None  # None: no rate limit beyond the daily cap
    permit_timeout: float = 60.0
    mailers: dict[str, Mailer] = field(default_factory=dict)  # one open mailer per route

    @classmethod
    def start(
        cls,
        engine: Engine,
        settings: Settings,
        offer: OfferBrief,
        clock: _Clock,
        pace: _Pace,
        resolver: MxResolver | None,
        mailer_factory: MailerFactory | None,
        owner: str | None,
        batch_tag: str | None,
    ) -> _Run:
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


def recover_sending(
    engine: Engine, settings: Settings, clock: Clock, owner_alive: OwnerAlive | None, batch_tag: str | None
) -> Recovered:
    """Rows of a gone owner (with `owner_alive`), then rows stuck in `sending`: requeued or `unknown`."""
    orphans = (
        release_orphaned_messages(engine, owner_alive=owner_alive, now=clock(), batch_tag=batch_tag)
        if owner_alive is not None
        else Recovered()
    )
    stale = recover_rows(
        engine,
        now=clock(),
        stale_after=timedelta(minutes=settings.outreach_stale_sending_minutes),
        batch_tag=batch_tag,
    )
    return Recovered(orphans.requeued + stale.requeued, orphans.unknown + stale.unknown)


def _settle(
    engine: Engine, settings: Settings, clock: Clock, searcher: SentSearcher | None, batch_tag: str | None
) -> dict[str, int]:
    """`unknown` rows settled from their route's sent folder: {"sent": n, "requeued": n}."""
    return tally_settled(settle_unknown(engine, settings, now=clock, searcher=searcher, batch_tag=batch_tag))


Step = Literal["delivered", "skipped", "stop"]


def _send_loop(run: _Run, tally: _Tally, *, limit: int) -> None:
    """Claim and deliver up to `limit` rows, spaced out, each under a permit (with permits), until the window
    closes, the cap is reached, no permit comes in time, a route stops the run or nothing is due."""
    delivered = False
    for _ in range(limit):
        if delivered and run.pace.spaced and _has_due(run.engine, run.settings, run.clock(), run.batch_tag):
            run.clock.slept += run.pace.pause()
        if not _take_permit(run, tally):
            return
        conversations = tally.conversations
        step = _next_message(run, tally)
        if run.permits is not None and tally.conversations == conversations:
            run.permits.give_back(1)  # no SMTP conversation used it: the next message (or run) may
        if step == "stop":
            return
        delivered = delivered or step == "delivered"


def _take_permit(run: _Run, tally: _Tally) -> bool:
    """One permit for the next message (always, without permits); none asked for when nothing can go now."""
    if run.permits is None:
        return True
    sendable = sendable_now(run.engine, run.settings, run.clock(), run.batch_tag)
    if sendable.now == 0:  # nothing due, or the day's cap is used: no permit taken
        tally.used_today = max(tally.used_today, sendable.used_today)
        if sendable.due:
            tally.cap_reached = True
            tally.stopped = f"daily cap of {run.settings.outreach_daily_cap} reached"
        else:
            tally.stopped = "no queued messages due"
        return False
    if run.permits.take(1, run.permit_timeout) == 0:
        tally.stopped = NO_PERMIT
        return False
    return True


def _next_message(run: _Run, tally: _Tally) -> Step:
    """Inside the window, claim the next due row and deliver it: `delivered`, `skipped` (refused at the claim:
    opt-out, third party) or `stop` (window closed, cap reached, nothing due, the run must stop)."""
    settings, clock = run.settings, run.clock
    is_open, tally.next_start = send_window_state(settings, clock())
    if not is_open:
        tally.stopped = "send window closed"
        return "stop"
    claim = claim_next(
        run.engine, settings, now=clock(), message_domain=run.domain, owner=run.owner, batch_tag=run.batch_tag
    )
    tally.used_today = claim.used_today
    if claim.cap_reached:
        tally.cap_reached = True
        tally.stopped = f"daily cap of {settings.outreach_daily_cap} reached"
        return "stop"
    if claim.skipped_id is not None:
        tally.skipped += 1
        tally.errors.append(_error(claim.skipped_reason or "skipped", claim.skipped_id, None, "skipped"))
        return "skipped"
    if claim.item is None:
        tally.stopped = "no queued messages due"
        return "stop"
    counted = tally.sent + tally.unknown
    go_on = _deliver(run, claim.item, tally)
    # a sent or unknown row counts against the cap; a retried or failed one does not
    tally.used_today += tally.sent + tally.unknown - counted
    return "delivered" if go_on else "stop"


def _report(
    tally: _Tally, recovery: Recovered, settled: dict[str, int], *, window_open: bool = True
) -> SendReport:
    """The run's figures; the next window start when the window was closed at the start or closed on the way."""
    closed = not window_open or tally.stopped == "send window closed"
    next_start = tally.next_start.isoformat() if closed and tally.next_start is not None else None
    return SendReport(
        sent=tally.sent,
        retried=tally.retried,
        failed=tally.failed,
        skipped=tally.skipped,
        suppressed=tally.suppressed,
        unknown=tally.unknown,
        recovered_unknown=recovery.unknown,
        recovered_requeued=recovery.requeued,
        settled_sent=settled["sent"],
        settled_requeued=settled["requeued"],
        routes_down=tuple(sorted(tally.routes_down.values())),
        cap_reached=tally.cap_reached,
        route_cap_reached=tally.route_capped,
        sent_today=tally.used_today,
        window_open=window_open,
        next_window_start=next_start,
        stopped_reason=tally.stopped,
        due_left=tally.due_left,
        errors=tuple(tally.errors),
    )


def _check_sender_addresses(settings: Settings, offer: OfferBrief) -> None:
    """Refuse to start with an unusable From address (it would fail every message)."""
    candidates = {"offer sender.email": offer.sender_email}
    for route in ("yandex", "gmail"):
        address = getattr(settings, f"smtp_{route}_from")
        if address:
            candidates[f"SMTP_{route.upper()}_FROM"] = address
    for name, address in candidates.items():
        if check_syntax(address)[0] is None:
            raise ConfigurationError(f"{name} is not a valid email address: {address!r}")


def _due(settings: Settings, now: datetime, batch_tag: str | None = None) -> ColumnElement[bool]:
    """Queued rows of this campaign (and batch, if given) whose next attempt has come."""
    return and_(
        OutreachMessage.status == MessageStatus.QUEUED,
        OutreachMessage.campaign == settings.outreach_campaign,
        or_(OutreachMessage.next_attempt_at.is_(None), OutreachMessage.next_attempt_at <= now),
        message_in_batch(batch_tag),
    )


def _has_due(engine: Engine, settings: Settings, now: datetime, batch_tag: str | None = None) -> bool:
    """Is any queued row due? (so the spacing pause is not taken before an empty claim)."""
    stmt = select(OutreachMessage.id).where(_due(settings, now, batch_tag)).limit(1)
    with read_scope(engine) as session:
        return session.scalar(stmt) is not None


@dataclass(frozen=True, slots=True)
class Sendable:
    """Queued rows due now, and what is left of today's cap."""

    due: int
    cap_left: int
    used_today: int = 0

    @property
    def now(self) -> int:
        """How many messages a send could take now."""
        return max(0, min(self.due, self.cap_left))


def sendable_now(engine: Engine, settings: Settings, now: datetime, batch_tag: str | None = None) -> Sendable:
    """Due rows (of the batch, if given) and the cap left, for sizing a batch (of rate-limit slots) before
    sending; the claim still checks the cap itself."""
    start, end = day_bounds(now, settings)
    count_due = select(func.count()).select_from(OutreachMessage).where(_due(settings, now, batch_tag))
    with read_scope(engine) as session:
        due = session.scalar(count_due)
        used = used_today(session, start, end)
    return Sendable(due=int(due or 0), cap_left=max(0, settings.outreach_daily_cap - used), used_today=used)


def _deliver(run: _Run, item: OutboxItem, tally: _Tally) -> bool:
    """Send one claimed item (route, then fallback route on connection failure) and record the outcome.

    A route is used only while its own daily cap (OUTREACH_DAILY_CAP_<ROUTE>) has room; when every route the
    message may take is full, the claim is released and the run stops. Returns False when the run should stop
    (every route unavailable or full).
    """
    engine, settings, clock = run.engine, run.settings, run.clock
    decision = run.router.route(item.to_email)
    meta: dict[str, Any] = {
        "mx": list(decision.mx_hosts),
        "mx_class": decision.mx_class.value,
        "route_reason": decision.reason,
    }
    routes = [decision.route] + ([decision.fallback] if decision.fallback else [])
    unavailable: list[str] = []
    full: list[str] = []
    no_smtputf8: list[str] = []  # routes whose server cannot take this address (leadgen.outreach.idn)
    for route in routes:
        if route in tally.routes_down:  # found down earlier in this run: not tried again
            unavailable.append(tally.routes_down[route])
            continue
        if not reserve_route(engine, settings, item, route, now=clock()):
            # The route's own daily cap is used: the fallback may take it, never past its own.
            full.append(route)
            continue
        try:
            message = _message(settings, item, route, run.offer, run.unsubscribe, clock())
        except (ValueError, TypeError, IndexError) as exc:  # the email package refused a header value
            error = f"cannot build the message: {exc}"
            mark_permanent(engine, item, now=clock(), error=error, suppress=False, meta=meta)
            tally.failed += 1
            tally.errors.append(_error(error, item.id, item.to_email, "failed"))
            return True
        outcome = _send_on(run, item, route, message, meta, tally, unavailable, no_smtputf8)
        if outcome == "next":
            continue
        if outcome == "sent":
            meta["route"] = route
            if route != decision.route:
                meta["route_fallback_from"] = decision.route
                meta["route_errors"] = unavailable + [f"route {r}: daily cap reached" for r in full]
            mark_sent(engine, item, now=clock(), route=route, meta=meta)
            tally.sent += 1
        return True
    return _no_route_took_it(run, item, meta, tally, unavailable, full, no_smtputf8)


def _send_on(
    run: _Run,
    item: OutboxItem,
    route: str,
    message: Any,
    meta: dict[str, Any],
    tally: _Tally,
    unavailable: list[str],
    no_smtputf8: list[str],
) -> Literal["sent", "done", "next"]:
    """Hand the message to the route's mailer: `sent`; `done` when a failure was recorded on the row (or the
    claim was lost); `next` when this route cannot take it (down, or no SMTPUTF8) and the next may."""
    engine, settings, clock = run.engine, run.settings, run.clock
    try:
        mailer = run.mailers.get(route) or run.factory(route)
        run.mailers[route] = mailer
        mailer.send(message, before_data=lambda: mark_data_started(engine, item, now=clock()))
    except SmtpUtf8Unsupported as exc:
        no_smtputf8.append(str(exc))
        return "next"
    except RouteUnavailable as exc:
        unavailable.append(str(exc))
        tally.routes_down[route] = str(exc)
        bad = run.mailers.pop(route, None)
        if bad is not None:
            bad.close()
        return "next"
    except ClaimLost as exc:  # recovered or reclaimed before DATA: the other owner decides
        tally.errors.append(_error(str(exc), item.id, item.to_email, "claim lost"))
        return "done"
    except SmtpTemporaryError as exc:
        meta["route"] = route
        if mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta):
            tally.retried += 1
            tally.errors.append(_error(str(exc), item.id, item.to_email, "retry"))
        else:
            tally.failed += 1
            tally.errors.append(_error(str(exc), item.id, item.to_email, "failed"))
        return "done"
    except SmtpOutcomeUnknown as exc:
        meta["route"] = route
        mark_unknown(engine, item, now=clock(), error=str(exc), route=route, meta=meta)
        tally.unknown += 1
        tally.errors.append(_error(str(exc), item.id, item.to_email, "unknown"))
        return "done"
    except SmtpPermanentError as exc:
        meta["route"] = route
        mark_permanent(engine, item, now=clock(), error=str(exc), suppress=exc.user_unknown, meta=meta)
        tally.failed += 1
        tally.suppressed += exc.user_unknown
        tally.errors.append(_error(str(exc), item.id, item.to_email, "failed"))
        return "done"
    except SmtpSendError as exc:  # pragma: no cover - every mailer raises one of the two leaves
        mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta)
        tally.retried += 1
        return "done"
    return "sent"


def _no_route_took_it(
    run: _Run,
    item: OutboxItem,
    meta: dict[str, Any],
    tally: _Tally,
    unavailable: list[str],
    full: list[str],
    no_smtputf8: list[str],
) -> bool:
    """Every route was full, down or without SMTPUTF8: wait for tomorrow's caps, skip, or requeue and stop."""
    engine, clock = run.engine, run.clock
    if full and not unavailable:  # every route it may take is full today: the row waits, the run stops
        caps = ", ".join(f"{r} ({route_cap(run.settings, r)})" for r in full)
        release_claim(engine, item, now=clock(), reason=f"route daily cap reached: {caps}")
        tally.route_capped = True
        tally.stopped = f"daily cap of route {caps} reached"
        return False
    if no_smtputf8 and not unavailable:
        meta["route_errors"] = no_smtputf8
        mark_skipped(engine, item, now=clock(), reason=NEEDS_SMTPUTF8, meta=meta)
        tally.skipped += 1
        tally.errors.append(_error("; ".join(no_smtputf8), item.id, item.to_email, "skipped"))
        return True
    # No route this message may take can be used, and nothing was transmitted: the row goes back to `queued`
    # exactly as before the claim (a route outage fails no message) and the run stops.
    release_unsent(engine, item, now=clock())
    error = "; ".join(unavailable + no_smtputf8) or "no route"
    tally.errors.append(_error(error, item.id, item.to_email, "requeued"))
    tally.stopped = error
    return False


def _message(
    settings: Settings,
    item: OutboxItem,
    route: str,
    offer: OfferBrief,
    unsubscribe: Unsubscribe,
    now: datetime,
) -> Any:
    from_address = settings.smtp_route(route).from_address or offer.sender_email  # type: ignore[arg-type]
    return build_message(
        subject=item.subject,
        body=item.body,
        to_email=smtp_address(item.to_email),  # IDN domain as punycode (leadgen.outreach.idn)
        from_address=from_address,
        offer=offer,
        message_id=item.message_id,
        unsubscribe=unsubscribe,
        date=now,
    )


def _dry_run(
    engine: Engine,
    settings: Settings,
    offer: OfferBrief,
    *,
    limit: int,
    now: datetime,
    resolver: MxResolver | None,
    batch_tag: str | None = None,
) -> SendReport:
    """Write the next due messages (of the batch, if given) as .eml files; the database is not changed."""
    mailer = DryRunMailer(settings.outreach_dry_run_dir)
    router = Router.from_settings(settings, resolver=resolver)
    unsubscribe = unsubscribe_for(settings, offer)
    domain = offer.sender_email.rpartition("@")[2] or "leadgen.invalid"
    skipped = 0
    errors: list[ItemError] = []
    with read_scope(engine) as session:
        rows = session.scalars(
            select(OutreachMessage)
            .where(
                OutreachMessage.status == MessageStatus.QUEUED,
                OutreachMessage.campaign == settings.outreach_campaign,
                or_(OutreachMessage.next_attempt_at.is_(None), OutreachMessage.next_attempt_at <= now),
                and_(OutreachMessage.to_email.is_not(None)),
                message_in_batch(batch_tag),
            )
            .order_by(OutreachMessage.id)
            .limit(limit)
        ).all()
        for row in rows:
            reason = row_opt_out_reason(session, row) or row_third_party_reason(session, row)
            if reason:
                skipped += 1
                errors.append(_error(reason, row.id, row.to_email, "skipped"))
                continue
            decision: RouteDecision = router.route(row.to_email or "")
            item = OutboxItem.from_row(row, message_id=row.message_id or new_message_id(domain))
            message = _message(settings, item, decision.route, offer, unsubscribe, now)
            message["X-Leadgen-Route"] = decision.route
            mailer.send(message)
    is_open, next_start = send_window_state(settings, now)  # reported as it is, not assumed open (issue 22)
    return SendReport(
        skipped=skipped, dry_run=True, files=tuple(str(p) for p in mailer.written), errors=tuple(errors),
        window_open=is_open, next_window_start=None if is_open else next_start.isoformat(),
    )  # fmt: skip
