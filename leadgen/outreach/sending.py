"""Stage `send_queued`: inside the send window, claim rows one by one under the daily cap and deliver them."""

from __future__ import annotations

import random
import time as _time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine

from leadgen.clock import Clock
from leadgen.errors import ConfigurationError
from leadgen.outreach.claims import claim_next
from leadgen.outreach.delivery import deliver
from leadgen.outreach.dry_run import write_dry_run
from leadgen.outreach.offer import OfferBrief, load_offer
from leadgen.outreach.orphans import release_orphaned_messages
from leadgen.outreach.outcomes import SendReport
from leadgen.outreach.permit_pool import PermitPool, return_orphaned_permits
from leadgen.outreach.permits import NO_PERMIT, Permits
from leadgen.outreach.recipients import check_syntax
from leadgen.outreach.recovery import Recovered, recover_rows
from leadgen.outreach.router import MxResolver
from leadgen.outreach.send_run import MailerFactory, Pace, RunClock, SendRun, Tally, item_error
from leadgen.outreach.send_window import send_window_state
from leadgen.outreach.sendable import has_due, sendable_now
from leadgen.outreach.settle import SentSearcher, settle_unknown
from leadgen.outreach.settle import tally as tally_settled
from leadgen.owners import OwnerAlive
from leadgen.settings import Settings


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

    With `permits` (Prefect's `email-daily`), a pool (leadgen.outreach.permit_pool) takes a few per request (none
    in `permit_timeout` s stops the run) and spends one per claim; a killed sender's go back with the next run.
    `now` is an aware datetime (advanced by the spacing sleeps) or a clock; spacing is OUTREACH_SPACING_SECONDS
    plus up to OUTREACH_SPACING_JITTER_SECONDS. Claims record `owner` (default: this process). With `batch_tag`,
    only that batch's messages are recovered and sent (the cap counts all). The report says why the run stopped
    and how many due messages it left (`due_left`).
    """
    offer = offer or load_offer(settings.outreach_offer_file)
    clock = RunClock(now)
    if dry_run:
        return write_dry_run(
            engine, settings, offer, limit=limit, now=clock(), resolver=resolver, batch_tag=batch_tag
        )
    recovery = recover_sending(engine, settings, clock, owner_alive, batch_tag)
    settled = _settle(engine, settings, clock, searcher, batch_tag) if settle else tally_settled([])
    tally = Tally()
    is_open, tally.next_start = send_window_state(settings, clock())
    if not is_open:
        tally.stopped = "outside the send window"
        return _report(tally, recovery, settled, window_open=False)
    _check_sender_addresses(settings, offer)
    pace = Pace(settings, rng or random.Random(), sleep or _time.sleep)
    run = SendRun.start(engine, settings, offer, clock, pace, resolver, mailer_factory, owner, batch_tag)
    if permits is not None:
        run.pool = _permit_pool(run, permits, permit_timeout, owner_alive)
    try:
        _send_loop(run, tally, limit=limit)
    finally:
        run.close()
    tally.due_left = sendable_now(engine, settings, clock(), batch_tag).due
    return _report(tally, recovery, settled)


def _permit_pool(
    run: SendRun, permits: Permits, timeout: float, owner_alive: OwnerAlive | None
) -> PermitPool:
    """The run's pool of `permits`, after returning those of gone owners (with `owner_alive`)."""
    if owner_alive is not None:
        return_orphaned_permits(run.engine, permits, owner_alive=owner_alive, me=run.owner)
    return PermitPool(run.engine, permits, run.owner, timeout=timeout)


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


def _send_loop(run: SendRun, tally: Tally, *, limit: int) -> None:
    """Claim and deliver up to `limit` rows, spaced out, each under a permit (with permits), until the window
    closes, the cap is reached, no permit comes in time, a route stops the run or nothing is due."""
    if run.pool is not None:
        sendable = _sendable_at_start(run, tally)
        if not sendable:
            return
        try:
            _loop(run, tally, limit=limit, sendable=sendable)
        finally:
            run.pool.close()  # the permits no message used go back
    else:
        _loop(run, tally, limit=limit, sendable=limit)


def _loop(run: SendRun, tally: Tally, *, limit: int, sendable: int) -> None:
    delivered = False
    for done in range(limit):
        if delivered and run.pace.spaced and _still_due(run):
            run.clock.slept += run.pace.pause()
        if run.pool is not None:
            cap_left = run.settings.outreach_daily_cap - tally.used_today
            if cap_left <= 0:
                _cap_reached(run, tally)  # this run used the cap: no permit asked for past it
                return
            # past what was due at the start, and nothing more due: no permit taken for nothing
            if not run.pool.held and done >= sendable and not _still_due(run):
                tally.stopped = "no queued messages due"
                return
            if not run.pool.ensure(min(limit - done, cap_left, max(sendable - done, 1)), now=run.clock()):
                tally.stopped = NO_PERMIT
                return
        step = _next_message(run, tally)
        if step == "stop":
            return
        delivered = delivered or step == "delivered"


def _still_due(run: SendRun) -> bool:
    return has_due(run.engine, run.settings, run.clock(), run.batch_tag)


def _sendable_at_start(run: SendRun, tally: Tally) -> int:
    """How many messages could go now (due, under the cap); asked once, before the first permit, so a run with
    nothing to send (every run of the send window after the cap is used) writes nothing to the rate limit."""
    sendable = sendable_now(run.engine, run.settings, run.clock(), run.batch_tag)
    tally.used_today = max(tally.used_today, sendable.used_today)
    if not sendable.now:
        if sendable.due:
            _cap_reached(run, tally)
        else:
            tally.stopped = "no queued messages due"
    return sendable.now


def _cap_reached(run: SendRun, tally: Tally) -> None:
    tally.cap_reached = True
    tally.stopped = f"daily cap of {run.settings.outreach_daily_cap} reached"


def _next_message(run: SendRun, tally: Tally) -> Step:
    """Inside the window, claim the next due row (spending a permit of the run's pool) and deliver it:
    `delivered`, `skipped` (refused at the claim: opt-out, third party) or `stop` (window closed, cap reached,
    nothing due, the run must stop). A claimed row no SMTP conversation used leaves its permit in the pool."""
    settings, clock, pool = run.settings, run.clock, run.pool
    is_open, tally.next_start = send_window_state(settings, clock())
    if not is_open:
        tally.stopped = "send window closed"
        return "stop"
    claim = claim_next(
        run.engine,
        settings,
        now=clock(),
        message_domain=run.domain,
        owner=run.owner,
        batch_tag=run.batch_tag,
        spend_permit_of=pool.owner if pool is not None else None,
    )
    tally.used_today = claim.used_today
    if claim.cap_reached:
        _cap_reached(run, tally)
        return "stop"
    if claim.skipped_id is not None:
        tally.skipped += 1
        tally.errors.append(item_error(claim.skipped_reason or "skipped", claim.skipped_id, None, "skipped"))
        return "skipped"
    if claim.item is None:
        tally.stopped = "no queued messages due"
        return "stop"
    if pool is not None:
        pool.spent()
    counted, conversations = tally.sent + tally.unknown, tally.conversations
    go_on = deliver(run, claim.item, tally)
    if pool is not None and tally.conversations == conversations:
        pool.unspent()
    # a sent or unknown row counts against the cap; a retried or failed one does not
    tally.used_today += tally.sent + tally.unknown - counted
    return "delivered" if go_on else "stop"


def _report(
    tally: Tally, recovery: Recovered, settled: dict[str, int], *, window_open: bool = True
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
