"""Stage `send_queued`: inside the send window, claim rows one by one under the daily cap and deliver them."""

from __future__ import annotations

import random
import ssl
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from leadgen.clock import Clock
from leadgen.db.batches import message_in_batch
from leadgen.db.engine import session_scope
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
from leadgen.outreach.recipients import check_syntax
from leadgen.outreach.reports import ItemError, SendReport
from leadgen.outreach.router import MxResolver, RouteDecision, Router
from leadgen.outreach.settle import SentSearcher, settle_unknown
from leadgen.outreach.settle import tally as tally_settled
from leadgen.owners import OwnerAlive, process_owner
from leadgen.settings import Settings
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
    errors: list[ItemError] = field(default_factory=list)
    routes_down: dict[str, str] = field(default_factory=dict)  # route -> why it cannot be used in this run


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
) -> SendReport:
    """Send up to `limit` queued messages, one claim transaction each, never more than the daily cap.

    `now` is an aware datetime (advanced by the spacing sleeps) or a clock. `sleep` defaults to time.sleep;
    spacing is OUTREACH_SPACING_SECONDS plus up to OUTREACH_SPACING_JITTER_SECONDS of jitter. Rows found in
    `sending` for longer than OUTREACH_STALE_SENDING_MINUTES are first recovered: requeued when they crashed
    before their DATA checkpoint, else marked `unknown`; then, with `settle`, `unknown` rows are settled from
    their route's sent folder (leadgen.outreach.settle; `searcher` defaults to IMAP). A route that cannot be
    used (connection, TLS, AUTH) is not used again in the run; a message with no usable route goes back to
    `queued` untouched and the run stops, `stopped_reason` naming the route and the setting to check.

    Claims record `owner` (default: this process; leadgen.owners). With `owner_alive`, rows in `sending` whose
    owner is gone are released first, by the same checkpoint rule (leadgen.outreach.orphans), and counted with
    the recovered ones. With `batch_tag`, only messages of that batch's
    companies are recovered, claimed and sent (the daily cap counts every message).
    """
    offer = offer or load_offer(settings.outreach_offer_file)
    clock = _Clock(now)
    if dry_run:
        return _dry_run(
            engine, settings, offer, limit=limit, now=clock(), resolver=resolver, batch_tag=batch_tag
        )
    sleep_fn = sleep or _time.sleep
    rng = rng or random.Random()
    owner = owner or process_owner()
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
    recovery = Recovered(orphans.requeued + stale.requeued, orphans.unknown + stale.unknown)
    recovered = recovery.unknown
    settled = tally_settled(
        settle_unknown(engine, settings, now=clock, searcher=searcher, batch_tag=batch_tag) if settle else []
    )
    is_open, next_start = send_window_state(settings, clock())
    if not is_open:
        return SendReport(
            recovered_unknown=recovered,
            recovered_requeued=recovery.requeued,
            settled_sent=settled["sent"],
            settled_requeued=settled["requeued"],
            window_open=False,
            next_window_start=next_start.isoformat(),
            stopped_reason="outside the send window",
        )
    _check_sender_addresses(settings, offer)
    router = Router.from_settings(settings, resolver=resolver, clock=clock)
    factory = mailer_factory or default_mailer_factory(settings)
    mailers: dict[str, Mailer] = {}
    tally = _Tally()
    domain = offer.sender_email.rpartition("@")[2] or "leadgen.invalid"
    unsubscribe = unsubscribe_for(settings, offer)
    first = True
    try:
        for _ in range(limit):
            spacing = settings.outreach_spacing_seconds or settings.outreach_spacing_jitter_seconds
            if not first and spacing and _has_due(engine, settings, clock(), batch_tag):
                pause = settings.outreach_spacing_seconds + rng.uniform(
                    0, settings.outreach_spacing_jitter_seconds
                )
                sleep_fn(pause)
                clock.slept += pause
            is_open, next_start = send_window_state(settings, clock())
            if not is_open:
                tally.stopped = "send window closed"
                break
            claim = claim_next(
                engine, settings, now=clock(), message_domain=domain, owner=owner, batch_tag=batch_tag
            )
            tally.used_today = claim.used_today
            if claim.cap_reached:
                tally.cap_reached = True
                tally.stopped = f"daily cap of {settings.outreach_daily_cap} reached"
                break
            if claim.skipped_id is not None:
                tally.skipped += 1
                tally.errors.append(ItemError("", claim.skipped_reason or "skipped", claim.skipped_id))
                continue
            if claim.item is None:
                tally.stopped = "no queued messages due"
                break
            first = False
            sent_before = tally.sent + tally.unknown
            go_on = _deliver(
                engine, settings, claim.item, router, factory, mailers, offer, unsubscribe, clock, tally
            )
            # a sent or unknown row counts against the cap; a retried or failed one does not
            tally.used_today += tally.sent + tally.unknown - sent_before
            if not go_on:
                break
    finally:
        for mailer in mailers.values():
            mailer.close()
    return SendReport(
        sent=tally.sent,
        retried=tally.retried,
        failed=tally.failed,
        skipped=tally.skipped,
        suppressed=tally.suppressed,
        unknown=tally.unknown,
        recovered_unknown=recovered,
        recovered_requeued=recovery.requeued,
        settled_sent=settled["sent"],
        settled_requeued=settled["requeued"],
        routes_down=sorted(tally.routes_down.values()),
        cap_reached=tally.cap_reached,
        route_cap_reached=tally.route_capped,
        sent_today=tally.used_today,
        window_open=True,
        next_window_start=None if tally.stopped != "send window closed" else next_start.isoformat(),
        stopped_reason=tally.stopped,
        errors=tally.errors,
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
    with session_scope(engine) as session:
        return session.scalar(stmt) is not None


@dataclass(frozen=True, slots=True)
class Sendable:
    """Queued rows due now, and what is left of today's cap."""

    due: int
    cap_left: int

    @property
    def now(self) -> int:
        """How many messages a send could take now."""
        return max(0, min(self.due, self.cap_left))


def sendable_now(engine: Engine, settings: Settings, now: datetime, batch_tag: str | None = None) -> Sendable:
    """Due rows (of the batch, if given) and the cap left, for sizing a batch (of rate-limit slots) before
    sending; the claim still checks the cap itself."""
    start, end = day_bounds(now, settings)
    count_due = select(func.count()).select_from(OutreachMessage).where(_due(settings, now, batch_tag))
    with session_scope(engine) as session:
        due = session.scalar(count_due)
        left = settings.outreach_daily_cap - used_today(session, start, end)
    return Sendable(due=int(due or 0), cap_left=max(0, left))


def _deliver(
    engine: Engine,
    settings: Settings,
    item: OutboxItem,
    router: Router,
    factory: MailerFactory,
    mailers: dict[str, Mailer],
    offer: OfferBrief,
    unsubscribe: Unsubscribe,
    clock: _Clock,
    tally: _Tally,
) -> bool:
    """Send one claimed item (route, then fallback route on connection failure) and record the outcome.

    A route is used only while its own daily cap (OUTREACH_DAILY_CAP_<ROUTE>) has room; when every route the
    message may take is full, the claim is released and the run stops. Returns False when the run should stop
    (every route unavailable or full).
    """
    decision = router.route(item.to_email)
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
            message = _message(settings, item, route, offer, unsubscribe, clock())
        except (ValueError, TypeError, IndexError) as exc:  # the email package refused a header value
            error = f"cannot build the message: {exc}"
            mark_permanent(engine, item, now=clock(), error=error, suppress=False, meta=meta)
            tally.failed += 1
            tally.errors.append(ItemError(item.to_email, error, item.id))
            return True
        try:
            mailer = mailers.get(route) or factory(route)
            mailers[route] = mailer
            mailer.send(message, before_data=lambda: mark_data_started(engine, item, now=clock()))
        except SmtpUtf8Unsupported as exc:
            no_smtputf8.append(str(exc))
            continue
        except RouteUnavailable as exc:
            unavailable.append(str(exc))
            tally.routes_down[route] = str(exc)
            bad = mailers.pop(route, None)
            if bad is not None:
                bad.close()
            continue
        except ClaimLost as exc:  # recovered or reclaimed before DATA: the other owner decides
            tally.errors.append(ItemError(item.to_email, str(exc), item.id))
            return True
        except SmtpTemporaryError as exc:
            meta["route"] = route
            if mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta):
                tally.retried += 1
            else:
                tally.failed += 1
            tally.errors.append(ItemError(item.to_email, str(exc), item.id))
            return True
        except SmtpOutcomeUnknown as exc:
            meta["route"] = route
            mark_unknown(engine, item, now=clock(), error=str(exc), route=route, meta=meta)
            tally.unknown += 1
            tally.errors.append(ItemError(item.to_email, str(exc), item.id))
            return True
        except SmtpPermanentError as exc:
            meta["route"] = route
            mark_permanent(engine, item, now=clock(), error=str(exc), suppress=exc.user_unknown, meta=meta)
            tally.failed += 1
            tally.suppressed += exc.user_unknown
            tally.errors.append(ItemError(item.to_email, str(exc), item.id))
            return True
        except SmtpSendError as exc:  # pragma: no cover - every mailer raises one of the two leaves
            mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta)
            tally.retried += 1
            return True
        meta["route"] = route
        if route != decision.route:
            meta["route_fallback_from"] = decision.route
            meta["route_errors"] = unavailable + [f"route {r}: daily cap reached" for r in full]
        mark_sent(engine, item, now=clock(), route=route, meta=meta)
        tally.sent += 1
        return True
    if full and not unavailable:  # every route it may take is full today: the row waits, the run stops
        caps = ", ".join(f"{r} ({route_cap(settings, r)})" for r in full)
        release_claim(engine, item, now=clock(), reason=f"route daily cap reached: {caps}")
        tally.route_capped = True
        tally.stopped = f"daily cap of route {caps} reached"
        return False
    if no_smtputf8 and not unavailable:
        meta["route_errors"] = no_smtputf8
        mark_skipped(engine, item, now=clock(), reason=NEEDS_SMTPUTF8, meta=meta)
        tally.skipped += 1
        tally.errors.append(ItemError(item.to_email, "; ".join(no_smtputf8), item.id))
        return True
    # No route this message may take can be used, and nothing was transmitted: the row goes back to `queued`
    # exactly as before the claim (a route outage fails no message) and the run stops.
    release_unsent(engine, item, now=clock())
    error = "; ".join(unavailable + no_smtputf8) or "no route"
    tally.errors.append(ItemError(item.to_email, error, item.id))
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
    with session_scope(engine) as session:
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
                errors.append(ItemError(row.to_email or "", reason, row.id))
                continue
            decision: RouteDecision = router.route(row.to_email or "")
            item = OutboxItem.from_row(row, message_id=row.message_id or new_message_id(domain))
            message = _message(settings, item, decision.route, offer, unsubscribe, now)
            message["X-Leadgen-Route"] = decision.route
            mailer.send(message)
    is_open, next_start = send_window_state(settings, now)  # reported as it is, not assumed open (issue 22)
    return SendReport(
        skipped=skipped, dry_run=True, files=[str(p) for p in mailer.written], errors=errors,
        window_open=is_open, next_window_start=None if is_open else next_start.isoformat(),
    )  # fmt: skip
