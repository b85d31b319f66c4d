"""Stage `draft_messages`: pick one recipient per enriched company, compose (or reuse) a draft, store it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.contacts.preference import best as preferred
from leadgen.contacts.thirdparty import third_party_reason
from leadgen.db import read_scope, write_scope
from leadgen.db.batches import company_in_batch
from leadgen.db.models import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    MessageStatus,
    OutreachMessage,
)
from leadgen.errors import OutreachError
from leadgen.outreach.briefs import CompanyBrief, ContactBrief, company_brief, contact_brief
from leadgen.outreach.composer import ComposedDraft, Composer, DraftPolicy, build_composer
from leadgen.outreach.guardrails import GuardrailVerdict
from leadgen.outreach.offer import OfferBrief, load_offer
from leadgen.outreach.optout import opt_out_reason
from leadgen.outreach.outcomes import DraftReport
from leadgen.outreach.recipients import (
    ADDRESS_TAKEN,
    BLOCKED_LOCAL_PARTS,
    DISPOSABLE_REASON,
    check_syntax,
    is_disposable,
    is_role_address,
)
from leadgen.outreach.template import EmailTemplate
from leadgen.settings import Settings
from leadgen.stage_report import ItemError

DRAFTABLE_STATUSES = (CompanyStatus.ENRICHED,)


NO_USABLE = "no usable email address"


def choose_recipient(
    contacts: Sequence[Contact],
    /,
    *,
    company_domain: str | None = None,
    taken: frozenset[str] = frozenset(),
    preference: str | None = None,
) -> tuple[Contact, str, str] | str:
    """(contact, normalised address, why it was chosen) for the email a buyer reads first
    (OUTREACH_RECIPIENT_PREFERENCE rank, then primary, then quality) among the addresses that are valid, not an
    automated mailbox, not disposable, not a third party's (web studio, site builder, host) and not already
    `taken` in this campaign; else the reason none is."""
    ordered = sorted(
        (c for c in contacts if c.kind == ContactKind.EMAIL),
        key=lambda c: (not c.is_primary, -c.quality_score, c.id),
    )
    usable: list[tuple[Contact, str]] = []
    reasons: list[str] = []
    for contact in ordered:
        email, _problem = check_syntax(contact.value)
        if not email or email.split("@", 1)[0] in BLOCKED_LOCAL_PARTS:
            continue
        reason = (
            third_party_reason(email, company_domain=company_domain, contact_meta=contact.meta)
            or (DISPOSABLE_REASON if is_disposable(email) else None)
            or (ADDRESS_TAKEN if email.lower() in taken else None)
        )
        if reason is None:
            usable.append((contact, email))
        else:
            reasons.append(reason)
    picked = preferred(usable, lambda pair: pair[1], preference)
    if picked is None:
        return reasons[0] if reasons else NO_USABLE
    (contact, email), ranked = picked
    return contact, email, ranked.reason(chosen_from=len(usable))


def pick_recipient(
    contacts: Sequence[Contact], /, *, company_domain: str | None = None, preference: str | None = None
) -> tuple[Contact, str] | None:
    """The (contact, address) `choose_recipient` picks, or None."""
    chosen = choose_recipient(contacts, company_domain=company_domain, preference=preference)
    return None if isinstance(chosen, str) else chosen[:2]


def _taken(session: Session, campaign: str, contacts: Sequence[Contact]) -> frozenset[str]:
    """Addresses of these contacts that a message of this campaign (not skipped) already holds; used to pick
    another address of the company. The unique index decides races: the insert below never relies on it."""
    addresses = {c.value.strip().lower() for c in contacts if c.kind == ContactKind.EMAIL}
    if not addresses:
        return frozenset()
    held = session.scalars(
        select(func.lower(OutreachMessage.to_email)).where(
            OutreachMessage.campaign == campaign,
            OutreachMessage.status != MessageStatus.SKIPPED,
            func.lower(OutreachMessage.to_email).in_(addresses),
        )
    )
    return frozenset(a for a in held if a)


def _candidates(session: Session, campaign: str, limit: int, batch_tag: str | None = None) -> list[Company]:
    has_message = exists().where(
        and_(OutreachMessage.company_id == Company.id, OutreachMessage.campaign == campaign)
    )
    has_email = exists().where(and_(Contact.company_id == Company.id, Contact.kind == ContactKind.EMAIL))
    stmt = (
        select(Company)
        .where(
            Company.status.in_(DRAFTABLE_STATUSES),
            Company.opt_out.is_(False),
            Company.replied_at.is_(None),  # a company that answered gets no further mail, in any campaign
            ~has_message,
            has_email,
            company_in_batch(batch_tag),
        )
        .order_by(Company.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _cached_draft(session: Session, company_id: int, key: str) -> OutreachMessage | None:
    """A stored draft with the same cache key (company + offer + template version + model), in any campaign."""
    rows = session.scalars(
        select(OutreachMessage)
        .where(OutreachMessage.company_id == company_id, OutreachMessage.body.is_not(None))
        .order_by(OutreachMessage.id)
    )
    for row in rows:
        if (row.meta or {}).get("draft_key") == key:
            return row
    return None


def _insert_message(session: Session, values: dict[str, Any]) -> bool:
    """Insert unless a row for this contact, or a non-skipped row for this address, exists in the campaign
    (`ON CONFLICT DO NOTHING` over both unique indexes); True when inserted."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(OutreachMessage).values(**values).on_conflict_do_nothing().returning(OutreachMessage.id)
    return session.execute(stmt).first() is not None


def draft_messages(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    now: datetime,
    composer: Composer | None = None,
    offer: OfferBrief | None = None,
    batch_tag: str | None = None,
) -> DraftReport:
    """Write drafts for up to `limit` enriched companies without a message in this campaign.

    The LLM is called outside any transaction; a draft already stored under the same cache key is reused,
    so re-runs do not pay twice. Opted-out recipients get a `skipped` row so they are not considered again.
    With `batch_tag`, only companies of that batch are drafted for.
    """
    drafter = _Drafter(
        engine,
        composer or build_composer(settings),
        offer or load_offer(settings.outreach_offer_file),
        settings.outreach_campaign,
        settings.outreach_recipient_preference,
        now,
    )
    work = _work(engine, settings.outreach_campaign, limit, batch_tag)
    counts = {"drafted": 0, "llm": 0, "fallback": 0, "reused": 0, "skipped": 0}
    errors: list[ItemError] = []
    for company, contacts, taken, first_email in work:
        result = drafter.company(company, contacts, taken, first_email)
        counts["skipped"] += result.skipped
        if result.error is not None:
            label = company.canonical_domain or f"company {company.id}"
            outcome = "skipped" if result.skipped else None
            errors.append(ItemError("company", result.error, id=company.id, key=label, outcome=outcome))
        if result.source is not None:
            counts["drafted"] += 1
            counts[result.source] += 1
    return DraftReport(considered=len(work), errors=tuple(errors), **counts)


@dataclass(frozen=True, slots=True)
class _Drafted:
    """What drafting for one company did: rows skipped, the draft's source (`llm`, `fallback`, `reused`) when one
    was stored, and the item error to report."""

    skipped: int = 0
    source: str | None = None
    error: str | None = None


@dataclass
class _Drafter:
    """What every company of one drafting run shares, and the addresses this run has drafted to so far."""

    engine: Engine
    composer: Composer
    offer: OfferBrief
    campaign: str
    preference: str | None
    now: datetime
    drafted_to: set[str] = field(default_factory=set)  # not yet in the `taken` read before the run

    def company(
        self,
        company: Company,
        contacts: Sequence[Contact],
        taken: frozenset[str],
        first_email: Contact | None,
    ) -> _Drafted:
        """Pick the recipient and draft for them; with none usable, record the decision on a skipped row (so
        the company does not come back every run)."""
        picked = choose_recipient(
            contacts,
            company_domain=company.canonical_domain,
            taken=taken | self.drafted_to,
            preference=self.preference,
        )
        if isinstance(picked, str):
            assert first_email is not None  # candidates have at least one email contact
            _record_no_recipient(self.engine, company.id, first_email, self.campaign, picked, self.now)
            return _Drafted(skipped=1, error=picked)
        contact, email, why = picked
        result = self.draft(company, contact, email, why)
        if result.source is not None:
            self.drafted_to.add(email.lower())
        return result

    def draft(self, company: Company, contact: Contact, email: str, why: str) -> _Drafted:
        """Skip an opted-out recipient, else compose (or reuse) the draft outside any transaction and store it."""
        brief = company_brief(company)
        recipient = contact_brief(contact, is_role=is_role_address(email))
        key = self.composer.key(brief, self.offer)
        base: dict[str, Any] = {
            "contact_id": contact.id,
            "company_id": company.id,
            "campaign": self.campaign,
            "to_email": email,
            "created_at": self.now,
            "updated_at": self.now,
        }
        reason, cached = _refusal_or_cached(self.engine, company, email, key)
        if reason:
            with write_scope(self.engine) as session:
                skipped = _insert_message(
                    session, base | {"status": MessageStatus.SKIPPED, "last_error": reason, "meta": {}}
                )
            return _Drafted(skipped=int(skipped))
        try:
            draft = cached if cached is not None else self.composer.compose(brief, recipient, self.offer)
        except OutreachError as exc:
            return _Drafted(error=str(exc))
        meta = {
            **dict(draft.meta),
            "draft_key": key,
            "role_address": recipient.is_role,
            "recipient_choice": why,
        }
        values = base | {
            "status": MessageStatus.DRAFTED,
            "subject": draft.template.subject,
            "body": draft.template.body,
            "composer": draft.composer,
            "meta": meta,
        }
        inserted, taken_now = _store_draft(self.engine, base, values)
        if taken_now:
            return _Drafted(skipped=1, error=ADDRESS_TAKEN)
        if not inserted:
            return _Drafted()
        return _Drafted(source="reused" if cached is not None else draft.composer)


def _refusal_or_cached(
    engine: Engine, company: Company, email: str, key: str
) -> tuple[str | None, ComposedDraft | None]:
    """(why the recipient may not be written to, None) or (None, the draft stored under `key`, if any)."""
    with read_scope(engine) as session:
        reason = opt_out_reason(session, email, company_domain=company.canonical_domain) or (
            "opted out: company" if company.opt_out else None
        )
        if reason:
            return reason, None
        stored = _cached_draft(session, company.id, key)
        return None, _reused(stored) if stored is not None else None


def _work(
    engine: Engine, campaign: str, limit: int, batch_tag: str | None
) -> list[tuple[Company, Sequence[Contact], frozenset[str], Contact | None]]:
    """The companies to draft for, each with its contacts, the addresses already taken and its first email."""
    with read_scope(engine) as session:
        work = []
        for company in _candidates(session, campaign, limit, batch_tag):
            contacts = session.scalars(
                select(Contact).where(Contact.company_id == company.id).order_by(Contact.id)
            ).all()
            first_email = next((c for c in contacts if c.kind == ContactKind.EMAIL), None)
            work.append((company, contacts, _taken(session, campaign, contacts), first_email))
    return work


def _record_no_recipient(
    engine: Engine, company_id: int, first_email: Contact, campaign: str, reason: str, now: datetime
) -> None:
    """Record the decision on a skipped row, so the company does not come back every run."""
    with write_scope(engine) as session:
        _insert_message(
            session,
            {
                "contact_id": first_email.id,
                "company_id": company_id,
                "campaign": campaign,
                "to_email": first_email.value.strip().lower(),
                "status": MessageStatus.SKIPPED,
                "last_error": reason,
                "meta": {},
                "created_at": now,
                "updated_at": now,
            },
        )


def _reused(cached: OutreachMessage) -> ComposedDraft:
    """A draft stored under the same cache key, composed again from its row."""
    return ComposedDraft(
        EmailTemplate(cached.subject or "", cached.body or ""),
        cached.composer or "fallback",
        GuardrailVerdict(tuple((cached.meta or {}).get("guardrails", []))),
        {**(cached.meta or {}), "reused_from": cached.id},
    )


def _store_draft(engine: Engine, base: dict[str, Any], values: dict[str, Any]) -> tuple[bool, bool]:
    """Insert the draft; (inserted, skipped because the address is taken)."""
    with write_scope(engine) as session:
        inserted = _insert_message(session, values)
        # The address is held by another company's message (or another drafter stored this contact's
        # message first): record the skip, so the company does not come back every run.
        taken_now = not inserted and _insert_message(
            session, base | {"status": MessageStatus.SKIPPED, "last_error": ADDRESS_TAKEN, "meta": {}}
        )
    return inserted, bool(taken_now)


def preview_draft(
    session: Session,
    settings: Settings,
    domain: str,
    /,
    *,
    composer: Composer | None = None,
    offer: OfferBrief | None = None,
    fresh: bool = False,
) -> tuple[CompanyBrief, str | None, ComposedDraft]:
    """The stored draft for a company (or a fresh one, not stored): (brief, recipient, draft)."""
    offer = offer or load_offer(settings.outreach_offer_file)
    company = session.scalar(select(Company).where(Company.canonical_domain == domain.strip().lower()))
    if company is None:
        raise OutreachError(f"no company with domain {domain!r}")
    brief = company_brief(company)
    stored = session.scalar(
        select(OutreachMessage)
        .where(OutreachMessage.company_id == company.id, OutreachMessage.body.is_not(None))
        .order_by(OutreachMessage.id.desc())
    )
    if stored is not None and not fresh:
        template = EmailTemplate(stored.subject or "", stored.body or "")
        verdict = DraftPolicy.from_settings(settings).check(template, offer, brief)
        return brief, stored.to_email, ComposedDraft(template, stored.composer or "?", verdict, stored.meta)
    contacts = session.scalars(select(Contact).where(Contact.company_id == company.id)).all()
    picked = pick_recipient(
        contacts, company_domain=company.canonical_domain, preference=settings.outreach_recipient_preference
    )
    email = picked[1] if picked else None
    recipient = contact_brief(picked[0], is_role=is_role_address(picked[1])) if picked else None
    draft = (composer or build_composer(settings)).compose(brief, recipient or ContactBrief(None, ""), offer)
    return brief, email, draft
