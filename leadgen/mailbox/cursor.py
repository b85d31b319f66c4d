"""The read cursor of one IMAP folder (UIDVALIDITY + last UID handled), moved in the message's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.db.models import MailboxCursor


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where reading a folder resumes: every UID up to `last_uid` under `uidvalidity` has been handled."""

    uidvalidity: int
    last_uid: int


def read_cursor(session: Session, /, *, mailbox: str, folder: str) -> Cursor | None:
    """The stored cursor of a folder, or None before its first sync."""
    row = session.execute(
        select(MailboxCursor.uidvalidity, MailboxCursor.last_uid).where(
            MailboxCursor.mailbox == mailbox, MailboxCursor.folder == folder
        )
    ).first()
    return Cursor(int(row.uidvalidity), int(row.last_uid)) if row else None


def advance_cursor(
    session: Session, /, *, mailbox: str, folder: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    """Record that `last_uid` was handled (an upsert). Under the same UIDVALIDITY the cursor never moves back;
    a new UIDVALIDITY replaces the old cursor (the folder is being read again from UID 1)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(MailboxCursor).values(
        mailbox=mailbox,
        folder=folder,
        uidvalidity=uidvalidity,
        last_uid=last_uid,
        created_at=now,
        updated_at=now,
    )
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[MailboxCursor.mailbox, MailboxCursor.folder],
        set_={
            "last_uid": case(
                (
                    (MailboxCursor.uidvalidity == new.uidvalidity) & (MailboxCursor.last_uid > new.last_uid),
                    MailboxCursor.last_uid,
                ),
                else_=new.last_uid,
            ),
            "uidvalidity": new.uidvalidity,
            "updated_at": new.updated_at,
        },
    )
    session.execute(stmt)
