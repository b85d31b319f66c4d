"""Outreach tasks: draft, queue, and send under the daily cap (sending first recovers crashed rows).

The stage tasks are never cached (they move rows); inside them the LLM call and the MX lookups are cached tasks
(tasks/llm.py, tasks/mx.py).
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.outreach import draft_messages, queue_messages, send_queued
from tasks import runtime
from tasks.claims import current_owner, owner_alive
from tasks.limits import EmailPermits
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
    """Send up to `limit` queued messages (of the batch, if given), each under an `email-daily` slot, taken a few
    at a time (leadgen.outreach.permit_pool has the rules); a dry run writes .eml files only."""
    settings = load_settings()
    with open_engine(settings) as engine:
        report = send_queued(
            engine,
            settings,
            limit=limit,
            now=runtime.now,
            dry_run=dry_run,
            sleep=runtime.sleep,
            resolver=mx_resolver(settings),
            owner=current_owner(),
            owner_alive=owner_alive,
            batch_tag=batch_tag,
            permits=EmailPermits(),
            permit_timeout=EMAIL_SLOT_TIMEOUT_SECONDS,
        )
    return dict(jsonable(report))
