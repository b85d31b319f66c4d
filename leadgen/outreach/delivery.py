"""Delivering one claimed message: its route (then fallback), the SMTP outcome recorded on the row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from leadgen.errors import (
    ClaimLost,
    RouteUnavailable,
    SmtpOutcomeUnknown,
    SmtpPermanentError,
    SmtpSendError,
    SmtpTemporaryError,
)
from leadgen.outreach.claims import (
    mark_data_started,
    release_claim,
    release_unsent,
    reserve_route,
)
from leadgen.outreach.daily_cap import route_cap
from leadgen.outreach.idn import NEEDS_SMTPUTF8, SmtpUtf8Unsupported, smtp_address
from leadgen.outreach.message import Unsubscribe, build_message
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.outbox import (
    OutboxItem,
    mark_permanent,
    mark_sent,
    mark_skipped,
    mark_temporary,
    mark_unknown,
)
from leadgen.outreach.send_run import SendRun, Tally, item_error
from leadgen.settings import Settings


def deliver(run: SendRun, item: OutboxItem, tally: Tally) -> bool:
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
            message = outgoing_message(settings, item, route, run.offer, run.unsubscribe, clock())
        except (ValueError, TypeError, IndexError) as exc:  # the email package refused a header value
            error = f"cannot build the message: {exc}"
            mark_permanent(engine, item, now=clock(), error=error, suppress=False, meta=meta)
            tally.failed += 1
            tally.errors.append(item_error(error, item.id, item.to_email, "failed"))
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
    run: SendRun,
    item: OutboxItem,
    route: str,
    message: Any,
    meta: dict[str, Any],
    tally: Tally,
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
        tally.errors.append(item_error(str(exc), item.id, item.to_email, "claim lost"))
        return "done"
    except SmtpTemporaryError as exc:
        meta["route"] = route
        if mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta):
            tally.retried += 1
            tally.errors.append(item_error(str(exc), item.id, item.to_email, "retry"))
        else:
            tally.failed += 1
            tally.errors.append(item_error(str(exc), item.id, item.to_email, "failed"))
        return "done"
    except SmtpOutcomeUnknown as exc:
        meta["route"] = route
        mark_unknown(engine, item, now=clock(), error=str(exc), route=route, meta=meta)
        tally.unknown += 1
        tally.errors.append(item_error(str(exc), item.id, item.to_email, "unknown"))
        return "done"
    except SmtpPermanentError as exc:
        meta["route"] = route
        mark_permanent(engine, item, now=clock(), error=str(exc), suppress=exc.user_unknown, meta=meta)
        tally.failed += 1
        tally.suppressed += exc.user_unknown
        tally.errors.append(item_error(str(exc), item.id, item.to_email, "failed"))
        return "done"
    except SmtpSendError as exc:  # pragma: no cover - every mailer raises one of the two leaves
        mark_temporary(engine, item, settings, now=clock(), error=str(exc), meta=meta)
        tally.retried += 1
        return "done"
    return "sent"


def _no_route_took_it(
    run: SendRun,
    item: OutboxItem,
    meta: dict[str, Any],
    tally: Tally,
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
        tally.errors.append(item_error("; ".join(no_smtputf8), item.id, item.to_email, "skipped"))
        return True
    # No route this message may take can be used, and nothing was transmitted: the row goes back to `queued`
    # exactly as before the claim (a route outage fails no message) and the run stops.
    release_unsent(engine, item, now=clock())
    error = "; ".join(unavailable + no_smtputf8) or "no route"
    tally.errors.append(item_error(error, item.id, item.to_email, "requeued"))
    tally.stopped = error
    return False


def outgoing_message(
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
