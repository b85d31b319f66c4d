"""`forget(email)`: erase a person's address everywhere and keep only its sha256 in the suppression list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.engine import ScalarResult
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadgen.db.models import (
    AddressBounce,
    Company,
    Contact,
    ContactKind,
    InboundMessage,
    MessageStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    SerpResult,
)
from leadgen.db.results import rowcount
from leadgen.domains import ascii_email
from leadgen.errors import OutreachError
from leadgen.outreach.optout import add_opt_out, email_hash, normalise_email
from leadgen.outreach.recipients import check_syntax

REDACTED = "[удалено]"
UNSENT = (MessageStatus.DRAFTED, MessageStatus.QUEUED)


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What `forget` changed: contacts deleted, messages scrubbed, text and metadata fields redacted."""

    email_hash: str
    contacts_deleted: int
    messages_scrubbed: int
    texts_redacted: int
    opt_out_entries_replaced: int


def forget(session: Session, email: str, /, *, now: datetime) -> ForgetReport:
    """Erase `email` from contacts, outreach and inbound messages, SERP and company text; suppress its hash.

    The caller owns the transaction (all of it commits or nothing does).
    """
    normalised, problem = check_syntax(email)
    address = normalised or normalise_email(email)
    if "@" not in address:
        raise OutreachError(problem or f"not an email address: {email!r}")
    digest = email_hash(address)
    # stored as `info@пример.рф`; older rows and page texts may spell the domain in punycode
    forms = {address, ascii_email(address)}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.IGNORECASE)

    # SQLite's LOWER() folds ASCII only: narrow by the local part, decide in Python.
    local = address.rpartition("@")[0]
    candidates = session.scalars(
        select(Contact).where(Contact.kind == ContactKind.EMAIL, func.lower(Contact.value).contains(local))
    ).all()
    doomed = [c for c in candidates if normalise_email(c.value) == address]
    for contact in doomed:
        session.delete(contact)
    session.flush()
    contacts = len(doomed)

    scrubbed = 0
    for message in session.scalars(
        select(OutreachMessage).where(
            or_(
                func.lower(OutreachMessage.to_email).in_(forms),
                *(func.lower(OutreachMessage.body).contains(f) for f in forms),
            )
        )
    ):
        if (message.to_email or "").lower() in forms:
            message.to_email = None
            message.body = None
            message.contact_id = None
            if message.status in UNSENT:
                message.status = MessageStatus.SKIPPED
                message.last_error = "recipient asked to be forgotten"
            message.meta = {k: v for k, v in (message.meta or {}).items() if k not in ("mx",)} | {
                "forgotten_at": now.isoformat()
            }
        elif message.body:
            message.body = pattern.sub(REDACTED, message.body)
        scrubbed += 1

    redacted = 0
    text_columns: list[tuple[type, list[InstrumentedAttribute[str | None]]]] = [
        (SerpResult, [SerpResult.title, SerpResult.snippet]),
        (Company, [Company.name, Company.snippet, Company.site_text]),
    ]
    for model, columns in text_columns:
        hits: ScalarResult[Any] = session.scalars(
            select(model).where(or_(*(func.lower(cast(c, Text)).contains(f) for c in columns for f in forms)))
        )
        for row in hits:
            for column in columns:
                value = getattr(row, column.key)
                if value and pattern.search(value):
                    setattr(row, column.key, pattern.sub(REDACTED, value))
            redacted += 1

    for model in (Company, SerpResult, Contact, OutreachMessage):
        meta_column = model.meta
        hits = session.scalars(
            select(model).where(or_(*(func.lower(cast(meta_column, Text)).contains(f) for f in forms)))
        )
        for row in hits:
            cleaned = _scrub(row.meta, pattern)
            if cleaned != row.meta:
                row.meta = cleaned
                redacted += 1

    redacted += _scrub_inbound(session, forms, pattern)

    replaced = rowcount(
        session.execute(
            delete(OptOut)
            .where(func.lower(OptOut.value).in_(forms), OptOut.kind == OptOutKind.EMAIL)
            .execution_options(synchronize_session=False)
        )
    )
    add_opt_out(session, digest, kind=OptOutKind.EMAIL_HASH, reason="forgotten on request", source="forget")
    session.flush()
    return ForgetReport(digest, int(contacts or 0), scrubbed, redacted, int(replaced or 0))


def _scrub_inbound(session: Session, forms: set[str], pattern: re.Pattern[str]) -> int:
    """Mail the person sent us loses its sender, subject and text; other inbound rows (bounces naming the
    address) get it redacted; the address's bounce counters are deleted. Returns the inbound rows changed."""
    session.execute(
        delete(AddressBounce)
        .where(func.lower(AddressBounce.address).in_(forms))
        .execution_options(synchronize_session=False)
    )
    im = InboundMessage
    columns = (im.subject, im.excerpt, cast(im.recipients, Text), cast(im.meta, Text))
    rows = session.scalars(
        select(im).where(
            or_(
                func.lower(im.sender).in_(forms), *(func.lower(c).contains(f) for c in columns for f in forms)
            )
        )
    ).all()
    for row in rows:
        if (row.sender or "").lower() in forms:
            row.sender = row.subject = row.excerpt = None
        row.subject = pattern.sub(REDACTED, row.subject) if row.subject else row.subject
        row.excerpt = pattern.sub(REDACTED, row.excerpt) if row.excerpt else row.excerpt
        row.recipients = _scrub(row.recipients, pattern)
        row.meta = _scrub(row.meta, pattern)
    return len(rows)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """Replace the address in every string of a JSON value (keys included)."""
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    return value
