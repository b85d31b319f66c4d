"""The opt-out (suppression) registry: emails, whole domains and hashes of forgotten emails."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.db.models import OptOut, OptOutKind
from leadgen.domains import ascii_email, domain_key, domain_spellings, to_ascii
from leadgen.domains import email_key as normalise_email
from leadgen.stage_report import ItemError

__all__ = [
    "ImportReport",
    "add_opt_out",
    "classify_value",
    "domain_forms",
    "email_hash",
    "import_csv",
    "list_opt_outs",
    "normalise_email",
    "opt_out_reason",
    "remove_opt_out",
]

NOT_A_VALUE = "not an email or domain"
CSV_VALUE_COLUMNS = ("value", "email", "domain", "e-mail", "почта", "адрес")


def email_hash(email: str, /) -> str:
    """sha256 of the address with its domain in punycode (`ascii_email`): what `leadgen forget` keeps. The
    punycode spelling keeps the hashes of entries written before the Unicode rule valid."""
    return hashlib.sha256(ascii_email(email).encode("utf-8")).hexdigest()


def classify_value(value: str, /) -> tuple[OptOutKind, str] | None:
    """Decide whether a raw value is an email or a domain; None when it is neither."""
    text = value.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text:
        return None
    if "@" in text.strip("@"):
        email = normalise_email(text)
        local, _, domain = email.rpartition("@")
        if local and "." in domain and " " not in email:
            return OptOutKind.EMAIL, email
        return None
    key = domain_key(text)
    return (OptOutKind.DOMAIN, key) if key else None


def add_opt_out(
    session: Session, value: str, /, *, kind: OptOutKind, reason: str | None = None, source: str | None = None
) -> bool:
    """Insert one entry (no-op when LOWER(value) is already there); True when it was added."""
    values = {"value": value, "kind": kind, "reason": reason, "source": source}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OptOut).values(**values).on_conflict_do_nothing().returning(OptOut.id)
    return session.execute(stmt).first() is not None


def remove_opt_out(session: Session, value: str, /) -> int:
    """Delete the entries of `value` in any spelling (Unicode or punycode domain); the number deleted."""
    text = value.strip().lower()
    spellings = {text, normalise_email(text), ascii_email(text)} if "@" in text else {text}
    if "@" not in text and (domain := domain_key(text)):
        spellings |= {domain, to_ascii(domain) or domain}
    rows = session.scalars(select(OptOut).where(func.lower(OptOut.value).in_(spellings))).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def domain_forms(domain: str, /) -> set[str]:
    """The domain and its parents in both punycode and Unicode spellings (`leadgen.domains.domain_spellings`),
    so an opt-out stored as `пример.рф` or `xn--e1afmkfd.xn--p1ai` matches either spelling."""
    return domain_spellings(domain)


def opt_out_reason(session: Session, email: str, /, *, company_domain: str | None = None) -> str | None:
    """Why `email` must not be contacted, or None: the email, its domain or its forgotten hash is listed, or
    the domain of the company it was found for (`company_domain`, e.g. a free-mail address on that site)."""
    email = normalise_email(email)
    domain = email.rpartition("@")[2]
    own_forms = domain_forms(domain)
    company_forms = (domain_forms(company_domain) if company_domain else set()) - own_forms
    candidates = {email, ascii_email(email), email_hash(email), *own_forms, *company_forms}
    hits = session.execute(
        select(OptOut.kind, OptOut.value).where(func.lower(OptOut.value).in_(candidates))
    ).all()
    if not hits:
        return None
    # The address's own entry first, then its domain's, then the company's domain.
    hit = min(hits, key=lambda h: (h[0] == OptOutKind.DOMAIN, h[1].lower() in company_forms))
    kind = OptOutKind(hit[0])
    if kind is OptOutKind.DOMAIN:
        if hit[1].lower() in company_forms:
            return f"opted out: company domain {hit[1]}"
        return f"opted out: domain {hit[1]}"
    if kind is OptOutKind.EMAIL_HASH:
        return "opted out: forgotten address"
    return "opted out: email"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Outcome of `import_csv`: rows added, already listed, and the rejected rows (`errors`: item "row", id the
    line number, key the value as written)."""

    added: int = 0
    already: int = 0
    errors: tuple[ItemError, ...] = ()


def import_csv(session: Session, text: str, /, *, source: str = "csv") -> ImportReport:
    """Import a CSV: a header with value/email/domain (optional reason), or one value per line without header."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return ImportReport()
    header = [c.strip().lower() for c in rows[0]]
    value_col, reason_col, body = 0, None, rows
    if any(name in CSV_VALUE_COLUMNS for name in header):
        value_col = next(i for i, name in enumerate(header) if name in CSV_VALUE_COLUMNS)
        reason_col = header.index("reason") if "reason" in header else None
        body = rows[1:]
    added = already = 0
    invalid: list[ItemError] = []
    for line_no, row in enumerate(body, start=2 if body is not rows else 1):
        raw = row[value_col] if value_col < len(row) else ""
        parsed = classify_value(raw)
        if parsed is None:
            invalid.append(ItemError("row", NOT_A_VALUE, id=line_no, key=raw.strip(), outcome="skipped"))
            continue
        reason = row[reason_col].strip() if reason_col is not None and reason_col < len(row) else None
        if add_opt_out(session, parsed[1], kind=parsed[0], reason=reason or None, source=source):
            added += 1
        else:
            already += 1
    return ImportReport(added, already, tuple(invalid))


def list_opt_outs(session: Session) -> Iterable[OptOut]:
    return session.scalars(select(OptOut).order_by(OptOut.created_at, OptOut.id)).all()
