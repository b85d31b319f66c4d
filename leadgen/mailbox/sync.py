"""Incremental reading of the routes' IMAP folders: each new message is handled and the cursor moved in ONE
transaction, so a sync killed at any point loses nothing and handles nothing twice when it runs again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import get_args

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from leadgen.clock import Clock
from leadgen.db import read_scope, write_scope
from leadgen.errors import ConfigurationError, DatabaseUnavailable, MailboxError, MailboxUnavailable
from leadgen.mailbox.classify import classify
from leadgen.mailbox.cursor import advance_cursor, read_cursor
from leadgen.mailbox.effects import SEEN_BEFORE, apply_classification
from leadgen.mailbox.imap import Mailbox, not_configured, open_mailbox
from leadgen.mailbox.kinds import MailKind
from leadgen.settings import ImapRoute, RouteName, Settings
from leadgen.stage_report import ItemError

log = logging.getLogger(__name__)

ROUTES: tuple[RouteName, ...] = get_args(RouteName)


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one message did: its kind, whether it is tied to one of our outreach messages, and whether
    it had been recorded before (same UID, or the same Message-ID before a UIDVALIDITY change: nothing applied)."""

    kind: MailKind
    matched: bool = False
    duplicate: bool = False
    suppressed: int = 0  # addresses added to the opt-out registry
    stopped: int = 0  # drafted/queued outreach rows skipped (the company replied, the address opted out)


Handler = Callable[[Session, bytes, int, int], Handled]
"""`handle(session, raw, uidvalidity, uid)`: classify one raw message and apply its effects inside the caller's
transaction (the sync commits it together with the cursor). Built per route, so it knows the mailbox and folder."""

HandlerFactory = Callable[[Settings, ImapRoute, Clock], Handler]
ClientFactory = Callable[[ImapRoute], Mailbox]


@dataclass(frozen=True, slots=True)
class SyncStep:
    """A progress event: `done` of `total` new messages of a route handled (`kind` of the last one)."""

    route: str
    done: int
    total: int
    uid: int | None = None
    kind: str | None = None


Progress = Callable[[SyncStep], None]


@dataclass(slots=True)
class SyncReport:
    """What one route's sync did (JSON-able through `tasks.runtime.jsonable`)."""

    route: str
    mailbox: str
    folder: str
    uidvalidity: int | None = None
    previous_uidvalidity: int | None = None
    rescanned: bool = False  # the server's UIDVALIDITY changed: the folder was read again from UID 1
    new: int = 0  # UIDs above the cursor found on the server
    read: int = 0  # messages handled (each committed with the cursor)
    kinds: dict[str, int] = field(default_factory=dict)
    matched: int = 0  # tied to one of our outreach messages
    duplicates: int = 0  # recorded before: nothing applied again
    suppressed: int = 0  # addresses opted out (hard bounces, soft ones at the limit, unsubscribe requests)
    stopped: int = 0  # pending outreach rows skipped
    last_uid: int = 0  # the cursor after the sync
    error: str | None = None  # why this route stopped early (unreachable, refused, a message that failed)
    error_kind: str | None = None  # `unavailable` (retry later), `refused` (fix the settings) or `message`
    errors: tuple[ItemError, ...] = ()  # the route (`unavailable`/`refused`) or the message it stopped at

    @property
    def ok(self) -> bool:
        return self.error is None


def effects_handler(settings: Settings, route: ImapRoute, now: Clock) -> Handler:
    """The production handler: `classify` the raw message, then `apply_classification`, which records it once
    per (mailbox, folder, UIDVALIDITY, UID) and applies its effects, but applies nothing for a message whose
    Message-ID the mailbox recorded before (read again after a UIDVALIDITY change)."""

    def handle(session: Session, raw: bytes, uidvalidity: int, uid: int) -> Handled:
        verdict = classify(raw)
        outcome = apply_classification(
            session,
            verdict,
            mailbox=route.mailbox,
            folder=route.folder,
            uidvalidity=uidvalidity,
            uid=uid,
            settings=settings,
            now=now(),
        )
        return Handled(
            kind=verdict.kind,
            matched=outcome.outreach_message_id is not None,
            duplicate=not outcome.recorded or outcome.effect.startswith(SEEN_BEFORE),
            suppressed=len(outcome.suppressed),
            stopped=outcome.stopped,
        )

    return handle


def sync_mailbox(
    engine: Engine,
    settings: Settings,
    route: ImapRoute,
    *,
    now: Clock,
    client_factory: ClientFactory = open_mailbox,
    handler: Handler | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Read the route's folder from its cursor on; each new message is handled in its own transaction together
    with the cursor move. A server failure (unreachable, refused, dropped) ends the report with `error`: what was
    read stays read. Raises `ConfigurationError` when the route is not configured, and database errors as they
    are (nothing is lost: the cursor did not move past an unhandled message)."""
    if not route.configured:
        raise ConfigurationError(not_configured(route))
    handle = handler or effects_handler(settings, route, now)
    report = SyncReport(route=route.name, mailbox=route.mailbox, folder=route.folder)
    try:
        with client_factory(route) as box:
            report.uidvalidity = box.uidvalidity
            report.last_uid = _start_from(engine, route, box.uidvalidity, report, now)
            uids = box.uids_after(report.last_uid)
            report.new = len(uids)
            if progress:
                progress(SyncStep(route.name, 0, len(uids)))
            for uid, raw in box.fetch(uids, batch_size=settings.imap_batch_size):
                handled = _handle_one(engine, route, handle, raw, box.uidvalidity, uid, now)
                if isinstance(handled, BaseException):
                    _stop_at(report, uid, handled)
                    break
                report.read += 1
                report.last_uid = uid
                report.kinds[str(handled.kind)] = report.kinds.get(str(handled.kind), 0) + 1
                report.matched += int(handled.matched)
                report.duplicates += int(handled.duplicate)
                report.suppressed += handled.suppressed
                report.stopped += handled.stopped
                if progress:
                    progress(SyncStep(route.name, report.read, len(uids), uid, str(handled.kind)))
    except MailboxError as exc:  # what was read before stays read; the next sync carries on from there
        report.error = str(exc)
        report.error_kind = "unavailable" if isinstance(exc, MailboxUnavailable) else "refused"
        where = f"{route.mailbox} {route.folder}"
        report.errors += (ItemError("route", str(exc), id=route.name, key=where, outcome=report.error_kind),)
        log.warning("%s %s: %s", route.mailbox, route.folder, exc)
    return report


def _start_from(engine: Engine, route: ImapRoute, uidvalidity: int, report: SyncReport, now: Clock) -> int:
    """The last UID handled under the server's UIDVALIDITY; 0 (and the cursor reset) when it changed."""
    with read_scope(engine) as session:
        cursor = read_cursor(session, mailbox=route.mailbox, folder=route.folder)
    if cursor is None:
        return 0
    if cursor.uidvalidity == uidvalidity:
        return cursor.last_uid
    # RFC 3501 2.3.1.1: the old UIDs mean nothing now, so the folder is read again from UID 1. The handler's
    # records (per UIDVALIDITY and UID, and per inbound Message-ID) keep the effects from being applied twice.
    report.previous_uidvalidity = cursor.uidvalidity
    report.rescanned = True
    log.warning(
        "%s %s: UIDVALIDITY changed from %s to %s; reading the folder again from UID 1",
        route.mailbox,
        route.folder,
        cursor.uidvalidity,
        uidvalidity,
    )
    with write_scope(engine) as session:  # stored at once, so a sync killed during the rescan resumes it
        advance_cursor(
            session,
            mailbox=route.mailbox,
            folder=route.folder,
            uidvalidity=uidvalidity,
            last_uid=0,
            now=now(),
        )
    return 0


def _handle_one(
    engine: Engine, route: ImapRoute, handle: Handler, raw: bytes, uidvalidity: int, uid: int, now: Clock
) -> Handled | Exception:
    """Handle one message and move the cursor past it in one transaction; the exception when it could not be
    handled (nothing of it is kept). Database outages are raised: every message would fail alike."""
    try:
        with write_scope(engine) as session:
            handled = handle(session, raw, uidvalidity, uid)
            advance_cursor(
                session,
                mailbox=route.mailbox,
                folder=route.folder,
                uidvalidity=uidvalidity,
                last_uid=uid,
                now=now(),
            )
        return handled
    except (OperationalError, InterfaceError, ProgrammingError, DatabaseUnavailable):
        raise
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        return exc
    except Exception as exc:  # a message that cannot be handled stops the folder at it; it is never skipped
        return exc


def _stop_at(report: SyncReport, uid: int, exc: BaseException) -> None:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    report.error = (
        f"message UID {uid} could not be handled ({type(exc).__name__}: {reason}); stopped before it"
    )
    where = f"{report.mailbox} {report.folder}"
    report.errors += (ItemError("message", report.error, id=uid, key=where, outcome="stopped before it"),)
    log.error("%s %s: %s", report.mailbox, report.folder, report.error, exc_info=exc)


def configured_routes(settings: Settings) -> list[ImapRoute]:
    """The routes whose mailbox is configured, in ROUTES order; a route configured with the same account and
    folder as an earlier one is left out (read twice, under two mailbox keys, a bounce would count twice)."""
    routes: list[ImapRoute] = []
    seen: set[tuple[str, str, str]] = set()
    for name in ROUTES:
        route = settings.imap_route(name)
        if not route.configured:
            continue
        account = ((route.host or "").lower(), (route.username or "").lower(), route.folder)
        if account in seen:
            log.info(
                "IMAP mailbox of route %s is the same account and folder as an earlier route: read once", name
            )
            continue
        seen.add(account)
        routes.append(route)
    return routes


def sync_all(
    engine: Engine,
    settings: Settings,
    *,
    now: Clock,
    routes: list[RouteName] | None = None,
    client_factory: ClientFactory = open_mailbox,
    handler_factory: HandlerFactory = effects_handler,
    progress: Progress | None = None,
) -> list[SyncReport]:
    """Sync every configured route's mailbox (or the named ones, which must be configured). A mailbox that is
    unreachable or refuses us ends its report with `error` and the others still run."""
    if routes is None:
        chosen = configured_routes(settings)
        if not chosen:
            raise ConfigurationError(
                "no IMAP mailbox is configured: set IMAP_<ROUTE>_HOST, _USERNAME and _PASSWORD "
                f"for a route ({', '.join(ROUTES)})"
            )
    else:
        chosen = [settings.imap_route(name) for name in routes]
        for route in chosen:
            if not route.configured:
                raise ConfigurationError(not_configured(route))
    return [
        sync_mailbox(
            engine,
            settings,
            route,
            now=now,
            client_factory=client_factory,
            handler=handler_factory(settings, route, now),
            progress=progress,
        )
        for route in chosen
    ]
