"""Settle `unknown` rows from their route's sent folder: a copy found means sent; none in a reliable folder after
the delay means not sent (requeued, attempt given back). Each change is conditional on the row still being in
doubt at the same checkpoint, and records its evidence in meta["settlements"]."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, get_args

from sqlalchemy import Engine, case, select, update

from leadgen.clock import Clock
from leadgen.db import read_scope, write_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import MailboxError
from leadgen.mailbox.sent import SentSearch, sent_copy_routes
from leadgen.settings import RouteName, Settings

OM = OutreachMessage
BATCH = 500


class Outcome(enum.StrEnum):
    SENT = "sent"  # a copy is in the route's sent folder
    REQUEUED = "requeued"  # no copy in a reliable sent folder after the delay: not sent
    WAITING = "waiting"  # no copy yet; a reliable folder is asked again after the delay
    UNKNOWN = "unknown"  # no evidence (no copy in an unreliable folder, no sent folder, mailbox unreadable)


class SentSearcher(Protocol):
    """Looks a Message-ID up in a route's sent folder; raises `MailboxError` when it cannot be read."""

    def find(self, route: str, message_id: str, /) -> SentSearch: ...


def decide(
    search: SentSearch, *, reliable: bool, in_doubt_since: datetime, now: datetime, wait: timedelta
) -> Outcome:
    """The pure rule: found → sent; absent and reliable → requeued once `wait` has passed since the row's DATA
    checkpoint (waiting before); absent and not reliable → unknown."""
    if search.uid is not None:
        return Outcome.SENT
    if not reliable:
        return Outcome.UNKNOWN
    return Outcome.REQUEUED if now - in_doubt_since >= wait else Outcome.WAITING


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling did to one `unknown` row (`changed` False: another process settled it first)."""

    id: int
    message_id: str | None
    route: str | None
    outcome: Outcome
    evidence: str
    changed: bool = False

    def summary(self) -> dict[str, Any]:
        """The JSON line of `leadgen outreach settle --json`."""
        return {
            "id": self.id,
            "message_id": self.message_id,
            "route": self.route,
            "outcome": self.outcome.value,
            "changed": self.changed,
            "evidence": self.evidence,
        }

    def line(self) -> str:
        return f"{self.outcome.value}: message {self.id} {self.message_id or ''} ({self.route or 'no route'}): {self.evidence}"


@dataclass(frozen=True, slots=True)
class _Doubt:
    id: int
    message_id: str | None
    route: str | None
    checkpoint: datetime | None  # data_started_at as read (the update is conditional on it)
    since: datetime


def settle_wait(settings: Settings) -> timedelta:
    """OUTREACH_SETTLE_AFTER_MINUTES, never shorter than SMTP_DATA_TIMEOUT_SECONDS (a sender still waiting for
    the server's reply must not see its message requeued)."""
    return max(
        timedelta(minutes=settings.outreach_settle_after_minutes),
        timedelta(seconds=settings.smtp_data_timeout_seconds),
    )


def settle_unknown(
    engine: Engine,
    settings: Settings,
    *,
    now: Clock,
    searcher: SentSearcher | None = None,
    batch_tag: str | None = None,
) -> list[Settlement]:
    """Look every `unknown` row (of the batch's companies, with `batch_tag`) up in its route's sent folder and
    settle what the evidence allows."""
    reliable = sent_copy_routes(settings, get_args(RouteName))
    doubts = list(_in_doubt(engine, batch_tag))
    if not doubts:
        return []
    opened: AbstractContextManager[Any] = (
        nullcontext(searcher) if searcher else _imap_searcher(settings, reliable)
    )
    wait = settle_wait(settings)
    results = []
    with opened as search_with:
        for doubt in doubts:
            results.append(_settle_one(engine, doubt, search_with, reliable, wait, now))
    return results


def _imap_searcher(settings: Settings, reliable: dict[str, bool]) -> AbstractContextManager[Any]:
    if not reliable:
        return nullcontext(None)
    from leadgen.mailbox.sent import ImapSentSearcher

    return ImapSentSearcher(settings)


def _in_doubt(engine: Engine, batch_tag: str | None = None) -> Iterator[_Doubt]:
    with read_scope(engine) as session:
        rows = session.execute(
            select(OM.id, OM.message_id, OM.route, OM.data_started_at, OM.sending_started_at, OM.updated_at)
            .where(OM.status == MessageStatus.UNKNOWN, message_in_batch(batch_tag))
            .order_by(OM.id)
            .limit(BATCH)
        ).all()
    for row_id, message_id, route, checkpoint, started, updated in rows:
        yield _Doubt(row_id, message_id, route, checkpoint, checkpoint or started or updated)


def _settle_one(
    engine: Engine,
    doubt: _Doubt,
    searcher: SentSearcher | None,
    reliable: dict[str, bool],
    wait: timedelta,
    now: Clock,
) -> Settlement:
    def result(outcome: Outcome, evidence: str, changed: bool = False) -> Settlement:
        return Settlement(doubt.id, doubt.message_id, doubt.route, outcome, evidence, changed)

    if doubt.route not in reliable or searcher is None or not doubt.message_id:
        if not doubt.route:
            return result(Outcome.UNKNOWN, "no sent folder to search: the row has no route")
        prefix = f"IMAP_{doubt.route.upper()}"
        why = f"set {prefix}_HOST, _USERNAME, _PASSWORD and {prefix}_SENT_COPIES=true"
        return result(Outcome.UNKNOWN, f"no sent folder to search for route {doubt.route} ({why})")
    try:
        search = searcher.find(doubt.route, doubt.message_id)
    except MailboxError as exc:
        return result(Outcome.UNKNOWN, f"sent folder not read: {exc}")
    at = now()
    outcome = decide(search, reliable=reliable[doubt.route], in_doubt_since=doubt.since, now=at, wait=wait)
    where = f"{search.folder!r} of the {search.route} mailbox"
    if outcome is Outcome.SENT:
        evidence = f"found in {where}, UID {search.uid} (UIDVALIDITY {search.uidvalidity})"
    elif outcome is Outcome.REQUEUED:
        evidence = (
            f"absent from {where} {_minutes(at - doubt.since)} after its DATA command (copies reliable)"
        )
    elif outcome is Outcome.WAITING:
        evidence = f"not in {where} yet; requeued from {(doubt.since + wait).isoformat()} if still absent"
        return result(outcome, evidence)
    else:
        flag = f"IMAP_{search.route.upper()}_SENT_COPY_RELIABLE"
        evidence = (
            f"not in {where}, whose copies are not marked reliable ({flag}): `leadgen outreach resolve`"
        )
        return result(outcome, evidence)
    record = {
        "outcome": outcome.value,
        "route": search.route,
        "folder": search.folder,
        "uidvalidity": search.uidvalidity,
        "uid": search.uid,
        "absent_minutes": None
        if search.uid is not None
        else round((at - doubt.since).total_seconds() / 60, 2),
        "at": at.isoformat(),
        "evidence": evidence,
    }
    return result(outcome, evidence, _apply(engine, doubt, outcome, record, at))


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} minutes"


def _apply(engine: Engine, doubt: _Doubt, outcome: Outcome, record: dict[str, Any], now: datetime) -> bool:
    """The conditional UPDATE: only a row still `unknown` at the same checkpoint changes (race-safe with a
    concurrent sender, sync or settle); True when this call changed it."""
    same = (
        OM.data_started_at.is_(None) if doubt.checkpoint is None else OM.data_started_at == doubt.checkpoint
    )
    with write_scope(engine) as session:
        found = session.execute(
            select(OM.meta)
            .where(OM.id == doubt.id, OM.status == MessageStatus.UNKNOWN, same)
            .with_for_update()
        ).first()
        if found is None:
            return False
        meta = dict(found[0] or {})
        values: dict[str, Any] = {
            "meta": {**meta, "settlements": [*meta.get("settlements", []), record]},
            "updated_at": now,
            "next_attempt_at": None,
        }
        if outcome is Outcome.SENT:
            values |= {"status": MessageStatus.SENT, "sent_at": doubt.since, "last_error": None}
        else:
            values |= {
                "status": MessageStatus.QUEUED,
                "attempts": case((OM.attempts > 0, OM.attempts - 1), else_=0),
                "sending_started_at": None,
                "data_started_at": None,
                "last_error": f"requeued: {record['evidence']}",
            }
        changed = session.execute(
            update(OM)
            .where(OM.id == doubt.id, OM.status == MessageStatus.UNKNOWN, same)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(changed)


def tally(settlements: list[Settlement]) -> dict[str, int]:
    """Rows changed per outcome (sent, requeued) and rows left in doubt (waiting, unknown)."""
    counts = {"sent": 0, "requeued": 0, "waiting": 0, "unknown": 0}
    for item in settlements:
        if item.outcome in (Outcome.SENT, Outcome.REQUEUED) and not item.changed:
            continue  # another process settled it first
        counts[item.outcome.value] += 1
    return counts
