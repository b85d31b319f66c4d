"""The send run in batches, each covered by permits taken first (the orchestration passes its rate limit in)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Engine

from leadgen.clock import Clock
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.outcomes import SendReport
from leadgen.outreach.permits import Permits
from leadgen.outreach.router import MxResolver
from leadgen.outreach.sending import (
    MailerFactory,
    Sendable,
    recover_sending,
    send_queued,
    send_window_state,
    sendable_now,
)
from leadgen.outreach.settle import SentSearcher, settle_unknown
from leadgen.outreach.settle import tally as tally_settled
from leadgen.owners import OwnerAlive
from leadgen.settings import Settings

NO_PERMIT = "no email-daily slot within the timeout"


@dataclass(frozen=True)
class BatchSender:
    """What every batch of one run shares: `send(n)` sends up to n messages (send_queued, not settling)."""

    engine: Engine
    settings: Settings
    permits: Permits
    clock: Clock
    sleep: Callable[[float], None]
    permit_timeout: float
    batch_tag: str | None = None
    owner: str | None = None
    resolver: MxResolver | None = None
    mailer_factory: MailerFactory | None = None
    offer: OfferBrief | None = None
    rng: random.Random | None = None

    def send(self, limit: int) -> SendReport:
        return send_queued(
            self.engine,
            self.settings,
            limit=limit,
            now=self.clock,
            sleep=self.sleep,
            settle=False,
            owner=self.owner,
            batch_tag=self.batch_tag,
            resolver=self.resolver,
            mailer_factory=self.mailer_factory,
            offer=self.offer,
        )

    def sendable(self) -> Sendable:
        return sendable_now(self.engine, self.settings, self.clock(), self.batch_tag)


def send_with_permits(
    run: BatchSender,
    *,
    limit: int,
    owner_alive: OwnerAlive | None = None,
    searcher: SentSearcher | None = None,
) -> SendReport:
    """Send up to `limit` queued messages in batches, each batch covered by permits taken first.

    First, once per run: rows a crash left in `sending` are recovered (at once when their owner is gone, with
    `owner_alive`, else after OUTREACH_STALE_SENDING_MINUTES), then rows in doubt are settled from their route's
    sent folder. The send window is checked before any permit is taken, so runs outside it take none.

    One permit is taken right before each message (waited for when none is free), never for a whole batch in
    advance: a run killed mid-send has used every permit it took but the one of the message in flight, so a
    rerun finds the cap's unused slots free (issue 23). None is taken when nothing is due or the cap is used; the
    claim still checks the cap. A run that gets no permit in time stops without claiming anything. A permit not
    used for a message (the cap, a route outage, nothing more due) is given back at once. The report says why the run stopped and how many due
    messages it left (`due_left`). With `batch_tag`, only messages of that batch's companies count.
    """
    engine, settings, clock = run.engine, run.settings, run.clock
    recovered = recover_sending(engine, settings, clock, owner_alive, run.batch_tag)
    settled = tally_settled(
        settle_unknown(engine, settings, now=clock, searcher=searcher, batch_tag=run.batch_tag)
    )
    total = SendReport(
        recovered_unknown=recovered.unknown,
        recovered_requeued=recovered.requeued,
        settled_sent=settled["sent"],
        settled_requeued=settled["requeued"],
    )
    is_open, opens = send_window_state(settings, clock())
    if not is_open:
        return replace(
            total,
            window_open=False,
            next_window_start=opens.isoformat(),
            stopped_reason="outside the send window",
        )
    total = _send_batches(run, total, limit)
    return replace(total, due_left=run.sendable().due)


def _send_batches(run: BatchSender, total: SendReport, limit: int) -> SendReport:
    """Messages, one permit each, until the limit, the cap, a permit timeout, a route stop or nothing more due."""
    settings = run.settings
    rng = run.rng or random.Random()
    first = True
    while limit - (total.sent + total.failed + total.skipped) > 0:
        sendable = run.sendable()
        if sendable.now == 0:  # nothing due, or the day's cap is used: no permit taken
            return _nothing_sendable(total, sendable, settings.outreach_daily_cap)
        permits = run.permits.take(1, run.permit_timeout)  # per message: a crash burns no spare slot
        if permits == 0:
            return replace(total, stopped_reason=NO_PERMIT)
        if not first:  # send_queued spaces the messages of one call; space the calls the same way
            run.sleep(
                settings.outreach_spacing_seconds + rng.uniform(0, settings.outreach_spacing_jitter_seconds)
            )
        first = False
        some = run.send(permits)
        # a permit paces one SMTP conversation: give back those of the batch no message used
        run.permits.give_back(permits - (some.sent + some.unknown + some.failed + some.retried))
        total = add_reports(total, some)
        if _batch_ends_run(some, permits):
            break
    return total


def _nothing_sendable(total: SendReport, sendable: Sendable, cap: int) -> SendReport:
    """The stop state when no message can go now: the cap when some are due but the cap is used."""
    capped = total.cap_reached or sendable.cap_left == 0
    reason = f"daily cap of {cap} reached" if capped and sendable.due else total.stopped_reason
    return replace(total, cap_reached=capped, stopped_reason=reason)


def _batch_ends_run(some: SendReport, permits: int) -> bool:
    """Nothing more was due (the batch used fewer than its permits), or the batch stopped on a cap, the window
    or a route outage."""
    if some.sent + some.failed + some.skipped + some.retried + some.unknown < permits:
        return True
    return some.cap_reached or some.route_cap_reached or not some.window_open or bool(some.routes_down)


def add_reports(total: SendReport, one: SendReport) -> SendReport:
    """Running totals over batches; the stop state comes from the latest batch."""
    return replace(
        one,
        sent=total.sent + one.sent,
        retried=total.retried + one.retried,
        failed=total.failed + one.failed,
        skipped=total.skipped + one.skipped,
        suppressed=total.suppressed + one.suppressed,
        unknown=total.unknown + one.unknown,
        recovered_unknown=total.recovered_unknown + one.recovered_unknown,
        recovered_requeued=total.recovered_requeued + one.recovered_requeued,
        settled_sent=total.settled_sent + one.settled_sent,
        settled_requeued=total.settled_requeued + one.settled_requeued,
        files=[*total.files, *one.files],
        errors=[*total.errors, *one.errors],
    )
