"""What the demo shows: the rows each stage produced and a count of duplicates (which must be zero)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.models import Company, CompanyStatus, Contact, OutreachMessage, SerpOperation, SerpQuery


@dataclass(frozen=True, slots=True)
class DemoSnapshot:
    """Rows of every stage (first few of each) and duplicate counts over all of them."""

    queries: list[tuple[str, str, str]] = field(default_factory=list)  # text, region, status
    operations: int = 0
    companies: list[tuple[str, str]] = field(default_factory=list)  # domain, status
    contacts: list[tuple[str, str, str]] = field(default_factory=list)  # domain, kind, value
    drafts: list[tuple[str, str, str]] = field(default_factory=list)  # to, subject, status
    delivered: list[tuple[str, str]] = field(default_factory=list)  # recipient, Message-ID
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.duplicates.values())


def _repeated(values: Iterable[object]) -> int:
    """How many values occur more than once (counting each extra occurrence)."""
    return sum(n - 1 for n in Counter(values).values() if n > 1)


def snapshot(session: Session, *, delivered: Sequence[tuple[str, str]] = ()) -> DemoSnapshot:
    """Read the pipeline's rows; `delivered` are (recipient, Message-ID) pairs as the SMTP sink received them."""
    queries = session.execute(
        select(SerpQuery.query_text, SerpQuery.region_code, SerpQuery.status).order_by(SerpQuery.id)
    ).all()
    companies = session.execute(select(Company.canonical_domain, Company.status).order_by(Company.id)).all()
    contacts = session.execute(
        select(Company.canonical_domain, Contact.kind, Contact.value, Contact.company_id)
        .join(Company, Company.id == Contact.company_id)
        .order_by(Contact.id)
    ).all()
    messages = session.execute(
        select(
            OutreachMessage.to_email,
            OutreachMessage.subject,
            OutreachMessage.status,
            OutreachMessage.contact_id,
        ).order_by(OutreachMessage.id)
    ).all()
    kept = [domain for domain, status in companies if domain and status != CompanyStatus.DUPLICATE]
    duplicates = {
        "queries (same text and region)": _repeated((q[0], q[1]) for q in queries),
        "companies (same domain)": _repeated(kept),
        "contacts (same company and value)": _repeated((c[3], c[1], c[2].lower()) for c in contacts),
        "messages (same contact)": _repeated(m[3] for m in messages if m[3] is not None),
        "emails delivered twice (same recipient)": _repeated(r.lower() for r, _ in delivered),
        "emails delivered twice (same Message-ID)": _repeated(mid for _, mid in delivered if mid),
    }
    return DemoSnapshot(
        queries=[(q[0], q[1], str(q[2])) for q in queries],
        operations=session.scalar(select(func.count()).select_from(SerpOperation)) or 0,
        companies=[(d or "-", str(s)) for d, s in companies],
        contacts=[(d or "-", str(k), v) for d, k, v, _ in contacts],
        drafts=[(t or "-", s or "", str(st)) for t, s, st, _ in messages],
        delivered=list(delivered),
        duplicates=duplicates,
    )
