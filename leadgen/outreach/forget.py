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
from leadgen.stage_report import ItemError

REDACTED = "[удалено]"
UNSENT = (MessageStatus.DRAFTED, MessageStatus.QUEUED)


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What `forget` changed: contacts deleted, messages scrubbed, text and metadata fields redacted.

    `errors` is always empty: an address that cannot be forgotten raises, and nothing is changed."""

    email_hash: str
    contacts_deleted: int
    messages_scrubbed: int
    texts_redacted: int
    opt_out_entries_replaced: int
    errors: tuple[ItemError, ...] = ()


@dataclass(frozen=True, slots=True)
class _Forms:
    """The address as stored, every spelling of it rows may hold, and a pattern matching any of them."""

    address: str
    forms: set[str]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, email: str) -> _Forms:
        normalised, problem = check_syntax(email)
        address = normalised or normalise_email(email)
        if "@" not in address:
            raise OutreachError(problem or f"not an email address: {email!r}")
        # stored as `info@пример.рф`; older rows and page texts may spell the domain in punycode
        forms = {address, ascii_email(address)}
        alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        return cls(address, forms, re.compile(alternatives, re.IGNORECASE))


def forget(session: Session, email: str, /, *, now: datetime) -> ForgetReport:
    """Erase `email` from contacts, outreach and inbound messages, SERP and company text; suppress its hash.

    The caller owns the transaction (all of it commits or nothing does).
    """
    forms = _Forms.of(email)
    digest = email_hash(forms.address)
    contacts = _delete_contacts(session, forms.address)
    scrubbed = _scrub_messages(session, forms, now)
    redacted = _redact_texts(session, forms) + _redact_meta(session, forms)
    redacted += _scrub_inbound(session, forms.forms, forms.pattern)
    replaced = rowcount(
        session.execute(
            delete(OptOut)
            .where(func.lower(OptOut.value).in_(forms.forms), OptOut.kind == OptOutKind.EMAIL)
            .execution_options(synchronize_session=False)
        )
    )
    add_opt_out(session, digest, kind=OptOutKind.EMAIL_HASH, reason="forgotten on request", source="forget")
    session.flush()
    return ForgetReport(digest, contacts, scrubbed, redacted, int(replaced or 0))


def _delete_contacts(session: Session, address: str) -> int:
    """Delete the email contacts that are this address; how many."""
    # SQLite's LOWER() folds ASCII only: narrow by the local part, decide in Python.
    local = address.rpartition("@")[0]
    candidates = session.scalars(
        select(Contact).where(Contact.kind == ContactKind.EMAIL, func.lower(Contact.value).contains(local))
    ).all()
    doomed = [c for c in candidates if normalise_email(c.value) == address]
    for contact in doomed:
        session.delete(contact)
    session.flush()
    return len(doomed)


def _scrub_messages(session: Session, forms: _Forms, now: datetime) -> int:
    """Messages to the address lose it, their body and contact (unsent ones are skipped); other bodies naming it
    get it redacted. Returns the messages changed."""
    scrubbed = 0
    for message in session.scalars(
        select(OutreachMessage).where(
            or_(
                func.lower(OutreachMessage.to_email).in_(forms.forms),
                *(func.lower(OutreachMessage.body).contains(f) for f in forms.forms),
            )
        )
    ):
        if (message.to_email or "").lower() in forms.forms:
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
            message.body = forms.pattern.sub(REDACTED, message.body)
        scrubbed += 1
    return scrubbed


def _redact_texts(session: Session, forms: _Forms) -> int:
    """The address redacted in SERP titles and snippets and in company names and texts; the rows changed."""
    redacted = 0
    text_columns: list[tuple[type, list[InstrumentedAttribute[str | None]]]] = [
        (SerpResult, [SerpResult.title, SerpResult.snippet]),
        (Company, [Company.name, Company.snippet, Company.site_text]),
    ]
    for model, columns in text_columns:
        hits: ScalarResult[Any] = session.scalars(
            select(model).where(
                or_(*(func.lower(cast(c, Text)).contains(f) for c in columns for f in forms.forms))
            )
        )
        for row in hits:
            for column in columns:
                value = getattr(row, column.key)
                if value and forms.pattern.search(value):
                    setattr(row, column.key, forms.pattern.sub(REDACTED, value))
            redacted += 1
    return redacted


def _redact_meta(session: Session, forms: _Forms) -> int:
    """The address redacted in the JSON metadata of companies, SERP results, contacts and messages."""
    redacted = 0
    for model in (Company, SerpResult, Contact, OutreachMessage):
        meta_column = model.meta
        hits: ScalarResult[Any] = session.scalars(
            select(model).where(or_(*(func.lower(cast(meta_column, Text)).contains(f) for f in forms.forms)))
        )
        for row in hits:
            cleaned = _scrub(row.meta, forms.pattern)
            if cleaned != row.meta:
                row.meta = cleaned
                redacted += 1
    return redacted


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
