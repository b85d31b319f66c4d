"""Mailbox tasks: read one route's IMAP mailbox from its cursor on (never cached; an outage is retried), and settle
`unknown` outreach rows from the routes' sent folders."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.errors import MailboxRefused, MailboxUnavailable
from leadgen.mailbox.sync import sync_mailbox
from leadgen.outreach.settle import settle_unknown, tally
from leadgen.settings import RouteName
from tasks import runtime
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="sync-mailbox", cache_policy=NO_CACHE, **retry_options())
def sync_mailbox_task(route: RouteName) -> dict[str, Any]:
    """Classify and apply every new message of `route`'s mailbox, one transaction each with the cursor.

    An unreachable server raises MailboxUnavailable (retried: the retry carries on from the cursor), a refused
    login MailboxRefused (not retried); a message that cannot be handled ends the report with its error.
    """
    settings = load_settings()
    with open_engine(settings) as engine:
        report = sync_mailbox(
            engine,
            settings,
            settings.imap_route(route),
            now=runtime.current_clock(),
        )
    if report.error_kind == "unavailable":
        raise MailboxUnavailable(report.error or "unavailable")
    if report.error_kind == "refused":
        raise MailboxRefused(report.error or "refused")
    return dict(jsonable(report))


@task(name="settle-unknown", cache_policy=NO_CACHE, **retry_options())
def settle_task() -> dict[str, Any]:
    """Settle `unknown` outreach rows from their route's sent folder: counts per outcome and one line per row
    that changed or stays in doubt (an unreadable sent folder leaves its rows `unknown`, it does not fail)."""
    settings = load_settings()
    with open_engine(settings) as engine:
        results = settle_unknown(engine, settings, now=runtime.current_clock())
    return {"counts": tally(results), "lines": [item.line() for item in results]}
