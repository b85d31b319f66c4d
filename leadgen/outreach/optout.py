"""The opt-out (suppression) registry: emails, whole domains and hashes of forgotten emails."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.db.models import OptOut, OptOutKind
from leadgen.domains import normalise_host, to_ascii

CSV_VALUE_COLUMNS = ("value", "email", "domain", "e-mail", "почта", "адрес")


def normalise_email(value: str, /) -> str:
    """Lower-case, trimmed, with the domain in its ASCII (punycode) form: `Info@Пример.РФ` -> `info@xn--e1afmkfd.xn--p1ai`."""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    return f"{local}@{_ascii_domain(domain)}"


def _ascii_domain(domain: str) -> str:
    try:
        return domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def email_hash(email: str, /) -> str:
    """sha256 of the normalised address: what `leadgen forget` keeps."""
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


def normalise_domain(value: str, /) -> str:
    """`https://www.Example.ru/x` -> `example.ru` (IDN domains become punycode)."""
    text = value.strip().lower()
    for prefix in ("http://", "https://", "mailto:"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0].split("?", 1)[0].rstrip(".").removeprefix("@")
    return _ascii_domain(text.removeprefix("www."))


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
    domain = normalise_domain(text)
    if "." in domain and " " not in domain and all(domain.split(".")):
        return OptOutKind.DOMAIN, domain
    return None


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
    rows = session.scalars(select(OptOut).where(func.lower(OptOut.value) == value.strip().lower())).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def domain_suffixes(domain: str, /) -> list[str]:
    """`a.b.example.ru` -> [a.b.example.ru, b.example.ru, example.ru] (an opt-out of a domain covers subdomains)."""
    parts = domain.lower().split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def domain_forms(domain: str, /) -> set[str]:
    """The domain and its parents in both punycode and Unicode forms (through leadgen.domains), so an opt-out
    stored as `пример.рф` or `xn--e1afmkfd.xn--p1ai` matches either spelling."""
    forms: set[str] = set()
    for raw in (domain, normalise_domain(domain)):
        for variant in (raw, to_ascii(raw), normalise_host(raw)):
            if variant:
                forms.update(domain_suffixes(variant.lower()))
    return forms


def opt_out_reason(session: Session, email: str, /, *, company_domain: str | None = None) -> str | None:
    """Why `email` must not be contacted, or None: the email, its domain or its forgotten hash is listed, or
    the domain of the company it was found for (`company_domain`, e.g. a free-mail address on that site)."""
    email = normalise_email(email)
    domain = email.rpartition("@")[2]
    own_forms = domain_forms(domain)
    company_forms = (domain_forms(company_domain) if company_domain else set()) - own_forms
    candidates = {email, email_hash(email), *own_forms, *company_forms}
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
    """Outcome of `import_csv`: rows added, already listed, and rejected rows with reasons."""

    added: int = 0
    already: int = 0
    invalid: list[str] = field(default_factory=list)


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
    invalid: list[str] = []
    for line_no, row in enumerate(body, start=2 if body is not rows else 1):
        raw = row[value_col] if value_col < len(row) else ""
        parsed = classify_value(raw)
        if parsed is None:
            invalid.append(f"line {line_no}: not an email or domain: {raw.strip()!r}")
            continue
        reason = row[reason_col].strip() if reason_col is not None and reason_col < len(row) else None
        if add_opt_out(session, parsed[1], kind=parsed[0], reason=reason or None, source=source):
            added += 1
        else:
            already += 1
    return ImportReport(added, already, invalid)


def list_opt_outs(session: Session) -> Iterable[OptOut]:
    return session.scalars(select(OptOut).order_by(OptOut.created_at, OptOut.id)).all()
