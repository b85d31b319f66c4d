"""Stage `queue_messages`: verify each draft's recipient and guardrails, then queue or skip it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.exc import IntegrityError

from leadgen.contacts.thirdparty import third_party_reason
from leadgen.db import read_scope, write_scope
from leadgen.db.batches import message_in_batch
from leadgen.db.models import Company, Contact, MessageStatus
from leadgen.outreach.composer import DraftPolicy
from leadgen.outreach.guardrails import check_draft
from leadgen.outreach.offer import OfferBrief, load_offer
from leadgen.outreach.optout import opt_out_reason
from leadgen.outreach.outbox import COMPANY_REPLIED, OM, transition
from leadgen.outreach.outcomes import QueueReport
from leadgen.outreach.recipients import ADDRESS_TAKEN, check_recipient
from leadgen.outreach.router import MxResolver, Router
from leadgen.outreach.template import EmailTemplate
from leadgen.settings import Settings
from leadgen.stage_report import ItemError


def queue_messages(
    engine: Engine,
    settings: Settings,
    *,
    limit: int,
    now: datetime,
    resolver: MxResolver | None = None,
    offer: OfferBrief | None = None,
    batch_tag: str | None = None,
) -> QueueReport:
    """Verify the recipients of up to `limit` drafts (syntax, disposable domain, opt-out of the address, its
    domain or the company's domain, third-party address, MX, guardrails) and queue or skip them. With
    `batch_tag`, only drafts for that batch's companies."""
    offer = offer or load_offer(settings.outreach_offer_file)
    policy = DraftPolicy.from_settings(settings)
    router = Router.from_settings(settings, resolver=resolver)
    rows = _drafts(engine, settings, limit=limit, batch_tag=batch_tag)
    queued = skipped = roles = 0
    errors: list[ItemError] = []
    for row_id, to_email, subject, body, domain, company_opt_out, replied_at, contact_meta in rows:
        with read_scope(engine) as session:
            check = check_recipient(
                to_email or "",
                mx_lookup=router.lookup if router.cache is not None else None,
                opted_out=lambda e, s=session, d=domain: opt_out_reason(s, e, company_domain=d),  # type: ignore[misc]
            )
        reason = check.reason
        if check.ok:
            reason = _refusal(check.email, reason, company_opt_out, replied_at, domain, contact_meta)
        if check.ok and reason is None:
            reason = _guardrail_reason(subject, body, offer, policy, domain)
        meta_patch = {"role_address": check.is_role, "mx": list(check.mx_hosts)}
        if reason is None:
            try:
                with write_scope(engine) as session:
                    changed = transition(
                        session,
                        row_id,
                        MessageStatus.DRAFTED,
                        status=MessageStatus.QUEUED,
                        queued_at=now,
                        to_email=check.email,
                        meta_patch=meta_patch,
                        now=now,
                    )
                queued += changed
                roles += changed and check.is_role
                continue
            except IntegrityError:  # the normalised address is another row's (a draft of an older version)
                reason = ADDRESS_TAKEN
        skipped += _skip_draft(engine, row_id, reason, meta_patch, now)
        errors.append(ItemError("message", reason, id=row_id, key=to_email or None, outcome="skipped"))
    return QueueReport(len(rows), queued, skipped, roles, tuple(errors))


def _drafts(engine: Engine, settings: Settings, *, limit: int, batch_tag: str | None) -> Sequence[Row[Any]]:
    """The drafts of this campaign to check, oldest first, with their company's and contact's facts."""
    with read_scope(engine) as session:
        return session.execute(
            select(
                OM.id,
                OM.to_email,
                OM.subject,
                OM.body,
                Company.canonical_domain,
                Company.opt_out,
                Company.replied_at,
                Contact.meta,
            )
            .outerjoin(Company, Company.id == OM.company_id)
            .outerjoin(Contact, Contact.id == OM.contact_id)
            .where(
                OM.status == MessageStatus.DRAFTED,
                OM.campaign == settings.outreach_campaign,
                message_in_batch(batch_tag),
            )
            .order_by(OM.id)
            .limit(limit)
        ).all()


def _skip_draft(engine: Engine, row_id: int, reason: str, meta_patch: dict[str, Any], now: datetime) -> int:
    """drafted → skipped with the reason; 1 when this run moved the row."""
    with write_scope(engine) as session:
        return transition(
            session,
            row_id,
            MessageStatus.DRAFTED,
            status=MessageStatus.SKIPPED,
            last_error=reason,
            meta_patch=meta_patch,
            now=now,
        )


def _refusal(
    email: str,
    reason: str | None,
    company_opt_out: bool | None,
    replied_at: datetime | None,
    domain: str | None,
    contact_meta: dict[str, Any] | None,
) -> str | None:
    """Why an address that passed its checks is still not written to: the company opted out or replied,
    or the address is a third party's."""
    if company_opt_out:
        return "opted out: company"
    if reason is None and replied_at is not None:
        return COMPANY_REPLIED
    if reason is not None:
        return reason
    return third_party_reason(email, company_domain=domain, contact_meta=contact_meta)


def _guardrail_reason(
    subject: str | None, body: str | None, offer: OfferBrief, policy: DraftPolicy, domain: str | None
) -> str | None:
    """Why the draft may not be queued as it stands (leadgen.outreach.guardrails), or None."""
    verdict = check_draft(
        _template(subject, body),
        offer,
        language=policy.language,
        subject_max=policy.subject_max,
        body_min=policy.body_min,
        body_max=policy.body_max,
        allowed_domains=frozenset({domain}) if domain else frozenset(),
    )
    return None if verdict.ok else "draft fails guardrails: " + "; ".join(verdict.problems)


def _template(subject: str | None, body: str | None) -> EmailTemplate:
    return EmailTemplate(subject or "", body or "")
