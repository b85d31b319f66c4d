"""Read a Maildir without an IMAP server (the sandbox mailbox in the demo) and apply each message's effects."""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from leadgen.db import write_scope
from leadgen.mailbox.effects import Outcome, apply_classification
from leadgen.mailbox.kinds import Classification
from leadgen.settings import Settings

Classifier = Callable[[bytes], Classification]
MAILDIR_FOLDER = "INBOX"


def read_maildir(path: Path, /) -> Iterator[tuple[str, bytes]]:
    """(key, raw bytes) of every message in the Maildir at `path` (new/ and cur/), oldest key first.

    A missing folder is an empty mailbox. Maildir keys start with the delivery time, so their order is the
    order of arrival.
    """
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        return
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.keys()):
        with box.get_file(key) as fh:
            yield key, fh.read()


@dataclass
class MaildirPass:
    """What one pass over a Maildir did: messages read, newly recorded, and their outcomes."""

    read: int = 0
    recorded: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def process_maildir(
    engine: Engine,
    path: Path,
    /,
    *,
    route: str,
    settings: Settings,
    now: datetime,
    classify: Classifier | None = None,
) -> MaildirPass:
    """Classify every message of the Maildir and apply its effects, one transaction per message.

    Maildir messages have no IMAP UID: each is recorded once per (route, INBOX, its Message-ID or, without one,
    its Maildir key), so a second pass records nothing. `classify` defaults to leadgen.mailbox.classify.classify.
    """
    if classify is None:
        from leadgen.mailbox.classify import classify as default_classify  # the classifier's own module

        classify = default_classify
    result = MaildirPass()
    for key, raw in read_maildir(path):
        verdict = classify(raw)
        if not verdict.inbound_message_id:  # no Message-ID: the Maildir key is its stable identity
            verdict = replace(verdict, inbound_message_id=f"<maildir.{key}>")
        with write_scope(engine) as session:
            outcome = apply_classification(
                session,
                verdict,
                mailbox=route,
                folder=MAILDIR_FOLDER,
                uidvalidity=None,
                uid=None,
                settings=settings,
                now=now,
            )
        result.read += 1
        result.recorded += outcome.recorded
        result.outcomes.append(outcome)
    return result
