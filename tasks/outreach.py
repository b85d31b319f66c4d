"""Outreach tasks: draft, queue, and send under the daily cap (sending first recovers crashed rows).

The stage tasks are never cached (they move rows); inside them the LLM call and the MX lookups are cached tasks
(tasks/llm.py, tasks/mx.py).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.outreach import SendReport, draft_messages, queue_messages, send_queued
from leadgen.outreach.outbox import recover_rows
from leadgen.outreach.sending import send_window_state, sendable_now
from leadgen.outreach.settle import settle_unknown
from leadgen.outreach.settle import tally as tally_settled
from tasks import runtime
from tasks.claims import current_owner, release_messages
from tasks.limits import return_email_slots, take_email_slots
from tasks.llm import cached_composer
from tasks.mx import mx_resolver
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine

# A send waits at most this long for an `email-daily` slot; then the run stops and the next one carries on.
EMAIL_SLOT_TIMEOUT_SECONDS = 60.0


@task(name="draft-messages", cache_policy=NO_CACHE, **retry_options())
def draft_task(limit: int, batch_tag: str | None = None) -> dict[str, Any]:
    """Drafts for up to `limit` enriched companies (of the batch, if given; LLM or fallback; stored drafts are
    reused, not redone)."""
    settings = load_settings()
    with open_engine(settings) as engine:
        report = draft_messages(
            engine,
            settings,
            limit=limit,
            now=runtime.now(),
            batch_tag=batch_tag,
            composer=cached_composer(settings),
        )
        return dict(jsonable(report))


@task(name="queue-messages", cache_policy=NO_CACHE, **retry_options())
def queue_task(limit: int, batch_tag: str | None = None) -> dict[str, Any]:
    """Check drafts (of the batch, if given: address, opt-out, MX) and queue the good ones."""
    settings = load_settings()
    with open_engine(settings) as engine:
        report = queue_messages(
            engine,
            settings,
            limit=limit,
            now=runtime.now(),
            batch_tag=batch_tag,
            resolver=mx_resolver(settings),
        )
        return dict(jsonable(report))


@task(name="send-messages", cache_policy=NO_CACHE, **retry_options())
def send_task(limit: int, dry_run: bool = False, batch_tag: str | None = None) -> dict[str, Any]:
    """Send up to `limit` queued messages in batches, each batch covered by `email-daily` slots taken first.

    A batch is the messages due now (at most what is left of the daily cap and PREFECT_EMAIL_BURST), cut to the
    limit's free slots (one, waited for, when none is free): sending follows the limit's pace with one slot
    request per batch rather than per message, and no slot is taken when nothing is due or the cap is used.
    The claim still checks the cap. A run that gets no slot in time stops without claiming anything. Slots of a
    batch not used for a message (the cap, a route outage, nothing more due) are given back at once. The report
    says why the run stopped and how many due messages it left (`due_left`). With `batch_tag`, only messages
    of that batch's companies are recovered, counted and sent.
    """
    settings = load_settings()
    total = SendReport(dry_run=dry_run)
    rng = random.Random()
    batch = max(1, min(settings.outreach_daily_cap, settings.prefect_email_burst))
    resolver = mx_resolver(settings)
    with open_engine(settings) as engine:
        if dry_run:  # .eml files only, the database is not changed: one call writes every due message
            dry = send_queued(
                engine,
                settings,
                limit=limit,
                now=runtime.now(),
                dry_run=True,
                batch_tag=batch_tag,
                resolver=resolver,
            )
            return dict(jsonable(dry))
        # Rows a crash left in `sending` are recovered whether or not anything is sent now: requeued when they
        # crashed before their DATA checkpoint, else `unknown` (never resent). At once when their owner (a flow
        # run, a process) is gone, else after OUTREACH_STALE_SENDING_MINUTES.
        released = release_messages(engine, batch_tag)
        stale = timedelta(minutes=settings.outreach_stale_sending_minutes)
        recovered = recover_rows(engine, now=runtime.now(), stale_after=stale, batch_tag=batch_tag)
        total = replace(
            total,
            recovered_unknown=released.unknown + recovered.unknown,
            recovered_requeued=released.requeued + recovered.requeued,
        )
        # Then rows in doubt are settled from their route's sent folder, once per run (not per batch).
        doubts = settle_unknown(engine, settings, now=runtime.current_clock(), batch_tag=batch_tag)
        settled = tally_settled(doubts)
        total = replace(total, settled_sent=settled["sent"], settled_requeued=settled["requeued"])
        owner = current_owner()
        is_open, opens = send_window_state(settings, runtime.now())
        if not is_open:  # checked before taking a slot, so runs outside the window use none
            closed = replace(
                total,
                window_open=False,
                next_window_start=opens.isoformat(),
                stopped_reason="outside the send window",
            )
            return dict(jsonable(closed))
        first = True
        while (left := limit - (total.sent + total.failed + total.skipped)) > 0:
            sendable = sendable_now(engine, settings, runtime.now(), batch_tag)
            if sendable.now == 0:  # nothing due, or the day's cap is used: no slot taken
                capped = total.cap_reached or sendable.cap_left == 0
                cap_stop = f"daily cap of {settings.outreach_daily_cap} reached"
                reason = cap_stop if capped and sendable.due else total.stopped_reason
                total = replace(total, cap_reached=capped, stopped_reason=reason)
                break
            wanted = min(batch, left, sendable.now)
            slots = take_email_slots(wanted, timeout_seconds=EMAIL_SLOT_TIMEOUT_SECONDS)
            if slots == 0:
                total = replace(total, stopped_reason="no email-daily slot within the timeout")
                break
            if not first:  # send_queued spaces the messages of one call; space the calls the same way
                runtime.sleep(
                    settings.outreach_spacing_seconds
                    + rng.uniform(0, settings.outreach_spacing_jitter_seconds)
                )
            first = False
            some = send_queued(
                engine,
                settings,
                limit=slots,
                now=runtime.current_clock(),
                sleep=runtime.sleep,
                settle=False,
                owner=owner,
                batch_tag=batch_tag,
                resolver=resolver,
            )
            # a slot paces one SMTP conversation: give back those of the batch no message used
            return_email_slots(slots - (some.sent + some.unknown + some.failed + some.retried))
            total = _add(total, some)
            if some.sent + some.failed + some.skipped + some.retried + some.unknown < slots:
                break  # nothing more was due
            if some.cap_reached or some.route_cap_reached or not some.window_open or some.routes_down:
                break
        total = replace(total, due_left=sendable_now(engine, settings, runtime.now(), batch_tag).due)
    return dict(jsonable(total))


def _add(total: SendReport, one: SendReport) -> SendReport:
    """Running totals over single-message calls; the stop state comes from the latest call."""
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
