"""Stage `draft_messages`: pick one recipient per enriched company, compose (or reuse) a draft, store it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadgen.contacts.preference import best as preferred
from leadgen.db.engine import session_scope
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
from leadgen.outreach.recipients import BLOCKED_LOCAL_PARTS, check_syntax, is_role_address
from leadgen.outreach.reports import DraftReport, ItemError
from leadgen.outreach.template import EmailTemplate
from leadgen.outreach.tx import write_scope
from leadgen.settings import Settings

DRAFTABLE_STATUSES = (CompanyStatus.ENRICHED,)


def pick_recipient(
    contacts: Sequence[Contact], /, preference: str | None = None
) -> tuple[Contact, str] | None:
    """The email contact a buyer reads first (OUTREACH_RECIPIENT_PREFERENCE rank, then primary, then quality)
    whose address is valid and not an automated mailbox; see `recipient_choice` for the reason."""
    choice = recipient_choice(contacts, preference)
    return (choice[0], choice[1]) if choice else None


def recipient_choice(
    contacts: Sequence[Contact], /, preference: str | None = None
) -> tuple[Contact, str, str] | None:
    """(contact, normalised address, why it was chosen) or None when no address is usable."""
    ordered = sorted(
        (c for c in contacts if c.kind == ContactKind.EMAIL and not (c.meta or {}).get("web_studio")),
        key=lambda c: (not c.is_primary, -c.quality_score, c.id),
    )
    usable: list[tuple[Contact, str]] = []
    for contact in ordered:
        email, _problem = check_syntax(contact.value)
        if email and email.split("@", 1)[0] not in BLOCKED_LOCAL_PARTS:
            usable.append((contact, email))
    picked = preferred(usable, lambda pair: pair[1], preference)
    if picked is None:
        return None
    (contact, email), ranked = picked
    return contact, email, ranked.reason(chosen_from=len(usable))


def _candidates(session: Session, campaign: str, limit: int) -> list[Company]:
    has_message = exists().where(
        and_(OutreachMessage.company_id == Company.id, OutreachMessage.campaign == campaign)
    )
    has_email = exists().where(and_(Contact.company_id == Company.id, Contact.kind == ContactKind.EMAIL))
    stmt = (
        select(Company)
        .where(Company.status.in_(DRAFTABLE_STATUSES), Company.opt_out.is_(False), ~has_message, has_email)
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
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(OutreachMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["contact_id", "campaign"])
        .returning(OutreachMessage.id)
    )
    return session.execute(stmt).first() is not None


def draft_messages(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    now: datetime,
    composer: Composer | None = None,
    offer: OfferBrief | None = None,
) -> DraftReport:
    """Write drafts for up to `limit` enriched companies without a message in this campaign.

    The LLM is called outside any transaction; a draft already stored under the same cache key is reused,
    so re-runs do not pay twice. Opted-out recipients get a `skipped` row so they are not considered again.
    """
    offer = offer or load_offer(settings.outreach_offer_file)
    composer = composer or build_composer(settings)
    campaign = settings.outreach_campaign
    with session_scope(engine) as session:
        companies = _candidates(session, campaign, limit)
        work = []
        for company in companies:
            contacts = session.scalars(
                select(Contact).where(Contact.company_id == company.id).order_by(Contact.id)
            ).all()
            first_email = next((c for c in contacts if c.kind == ContactKind.EMAIL), None)
            work.append(
                (company, recipient_choice(contacts, settings.outreach_recipient_preference), first_email)
            )
    counts = {"drafted": 0, "llm": 0, "fallback": 0, "reused": 0, "skipped": 0}
    errors: list[ItemError] = []
    for company, picked, first_email in work:
        label = company.canonical_domain or f"company {company.id}"
        if picked is None:
            # Record the decision on a skipped row, so the company does not come back every run.
            assert first_email is not None  # candidates have at least one email contact
            with write_scope(engine) as session:
                _insert_message(
                    session,
                    {
                        "contact_id": first_email.id,
                        "company_id": company.id,
                        "campaign": campaign,
                        "to_email": first_email.value.strip().lower(),
                        "status": MessageStatus.SKIPPED,
                        "last_error": "no usable email address",
                        "meta": {},
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            counts["skipped"] += 1
            errors.append(ItemError(label, "no usable email address", company.id))
            continue
        contact, email, why = picked
        brief = company_brief(company)
        recipient = contact_brief(contact, is_role=is_role_address(email))
        base: dict[str, Any] = {
            "contact_id": contact.id,
            "company_id": company.id,
            "campaign": campaign,
            "to_email": email,
            "created_at": now,
            "updated_at": now,
        }
        with session_scope(engine) as session:
            reason = opt_out_reason(session, email) or ("opted out: company" if company.opt_out else None)
            cached = None if reason else _cached_draft(session, company.id, composer.key(brief, offer))
        if reason:
            with write_scope(engine) as session:
                if _insert_message(
                    session, base | {"status": MessageStatus.SKIPPED, "last_error": reason, "meta": {}}
                ):
                    counts["skipped"] += 1
            continue
        try:
            if cached is not None:
                draft = ComposedDraft(
                    EmailTemplate(cached.subject or "", cached.body or ""),
                    cached.composer or "fallback",
                    GuardrailVerdict(tuple((cached.meta or {}).get("guardrails", []))),
                    {**(cached.meta or {}), "reused_from": cached.id},
                )
            else:
                draft = composer.compose(brief, recipient, offer)
        except OutreachError as exc:
            errors.append(ItemError(label, str(exc), company.id))
            continue
        meta = {
            **dict(draft.meta),
            "draft_key": composer.key(brief, offer),
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
        with write_scope(engine) as session:
            if not _insert_message(session, values):
                continue  # another drafter stored this contact's message first
        counts["drafted"] += 1
        counts["reused" if cached is not None else draft.composer] += 1
    return DraftReport(considered=len(work), errors=errors, **counts)


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
    picked = pick_recipient(contacts, settings.outreach_recipient_preference)
    email = picked[1] if picked else None
    recipient = contact_brief(picked[0], is_role=is_role_address(picked[1])) if picked else None
    draft = (composer or build_composer(settings)).compose(brief, recipient or ContactBrief(None, ""), offer)
    return brief, email, draft
