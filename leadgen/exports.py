"""CSV exports of the working companies and their contacts, for a batch or all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from leadgen.csv_safe import write_csv
from leadgen.db.models import Company, Contact, ContactKind, InboundMessage
from leadgen.mailbox.kinds import MailKind
from leadgen.pipeline_stats import WORKING_EXCLUDED, batch_companies, email_listed, opted_out_company

DOMAIN_COLUMNS = (
    "domain", "name", "website_url", "status", "niche", "city", "region_code", "batch_tag",
    "emails", "phones", "primary_email", "first_seen_at",
)  # fmt: skip
CONTACT_COLUMNS = (
    "domain", "company", "kind", "value", "source", "quality_score", "is_primary", "page_url", "batch_tag",
    "first_seen_at", "replied_at", "reply_from", "reply_excerpt", "chosen",
)  # fmt: skip


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    return write_csv(path, header, rows)


def export_domains(session: Session, path: Path, *, batch_tag: str | None = None) -> int:
    """Write working company domains (not duplicate/excluded/unreachable/opted out) to CSV; returns rows."""
    emails = (
        select(func.count())
        .where(Contact.company_id == Company.id, Contact.kind == ContactKind.EMAIL)
        .scalar_subquery()
    )
    phones = (
        select(func.count())
        .where(Contact.company_id == Company.id, Contact.kind == ContactKind.PHONE)
        .scalar_subquery()
    )
    primary = (
        select(Contact.value)
        .where(
            Contact.company_id == Company.id, Contact.kind == ContactKind.EMAIL, Contact.is_primary.is_(True)
        )
        .order_by(Contact.id)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(
            Company.canonical_domain,
            Company.name,
            Company.website_url,
            Company.status,
            Company.niche,
            Company.city,
            Company.region_code,
            Company.batch_tag,
            emails,
            phones,
            primary,
            Company.first_seen_at,
        )
        .where(
            Company.canonical_domain.is_not(None),
            Company.status.not_in(WORKING_EXCLUDED),
            ~opted_out_company(),
            batch_companies(batch_tag),
        )
        .order_by(Company.canonical_domain)
    )
    rows = (
        (d, n, w, getattr(s, "value", s), ni, c, rc, b, e, p, pe, f.isoformat() if f else None)
        for d, n, w, s, ni, c, rc, b, e, p, pe, f in session.execute(stmt)
    )
    return _write_csv(path, DOMAIN_COLUMNS, rows)


def _latest_reply(column: Any) -> Any:
    """`column` of the company's latest recorded reply (leadgen.mailbox.effects), as a scalar subquery."""
    return (
        select(column)
        .where(InboundMessage.company_id == Company.id, InboundMessage.kind == MailKind.REPLY)
        .order_by(InboundMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _one_line(text: str | None, limit: int = 300) -> str | None:
    """The first lines of a reply on one line, clipped: what a spreadsheet cell shows (the CSV writer
    neutralises a leading formula character, as for every cell)."""
    joined = " ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return (joined[: limit - 1] + "…" if len(joined) > limit else joined) or None


def export_contacts(session: Session, path: Path, *, batch_tag: str | None = None) -> int:
    """Write contacts of working, not opted-out companies to CSV (opted-out emails left out); returns rows.

    The reply columns show when the company answered, from which address and its first lines.
    """
    stmt = (
        select(
            Company.canonical_domain,
            Company.name,
            Contact.kind,
            Contact.value,
            Contact.source,
            Contact.quality_score,
            Contact.is_primary,
            Contact.page_url,
            Company.batch_tag,
            Contact.first_seen_at,
            Company.replied_at,
            _latest_reply(InboundMessage.sender),
            _latest_reply(InboundMessage.excerpt),
            Contact.meta,  # `chosen`: why this email is the primary (recipient preference)
        )
        .join(Company, Company.id == Contact.company_id)
        .where(
            Company.status.not_in(WORKING_EXCLUDED),
            ~opted_out_company(),
            ~and_(Contact.kind == ContactKind.EMAIL, email_listed()),
            batch_companies(batch_tag),
        )
        .order_by(Company.canonical_domain, Contact.kind, Contact.quality_score.desc(), Contact.value)
    )
    rows = (
        (d, n, getattr(k, "value", k), v, getattr(s, "value", s), q, int(bool(p)), u, b,
         f.isoformat() if f else None, r.isoformat() if r else None, rf, _one_line(rx), (m or {}).get("chosen"))
        for d, n, k, v, s, q, p, u, b, f, r, rf, rx, m in session.execute(stmt)
    )  # fmt: skip
    return _write_csv(path, CONTACT_COLUMNS, rows)
