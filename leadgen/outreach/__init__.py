"""Outreach: briefs, LLM composer with fallback and guardrails, recipient checks, MX routing, SMTP outbox."""

from leadgen.outreach.briefs import CompanyBrief, ContactBrief, company_brief, contact_brief
from leadgen.outreach.composer import (
    ComposedDraft,
    Composer,
    DraftPolicy,
    FallbackComposer,
    LlmComposer,
    build_composer,
    draft_key,
)
from leadgen.outreach.drafting import draft_messages, preview_draft
from leadgen.outreach.forget import ForgetReport, forget
from leadgen.outreach.guardrails import GuardrailVerdict, check_draft
from leadgen.outreach.mailer import DryRunMailer, Mailer, RecordingMailer, SmtpMailer
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen.outreach.offer import OfferBrief, load_offer, parse_offer
from leadgen.outreach.optout import add_opt_out, email_hash, import_csv, list_opt_outs, opt_out_reason
from leadgen.outreach.outcomes import DraftReport, QueueReport, SendReport
from leadgen.outreach.queueing import queue_messages
from leadgen.outreach.recipients import RecipientCheck, check_recipient
from leadgen.outreach.recovery import recover_stale_sending
from leadgen.outreach.router import (
    DnsMxResolver,
    MxAnswer,
    MxCache,
    MxClass,
    MxResolver,
    RouteDecision,
    Router,
    StaticMxResolver,
    classify_mx,
)
from leadgen.outreach.sending import send_queued
from leadgen.outreach.template import TEMPLATE_VERSION, EmailTemplate, fallback_draft

__all__ = [
    "TEMPLATE_VERSION",
    "CompanyBrief",
    "ComposedDraft",
    "Composer",
    "ContactBrief",
    "DnsMxResolver",
    "DraftPolicy",
    "DraftReport",
    "DryRunMailer",
    "EmailTemplate",
    "FallbackComposer",
    "ForgetReport",
    "GuardrailVerdict",
    "LlmComposer",
    "Mailer",
    "MxAnswer",
    "MxCache",
    "MxClass",
    "MxResolver",
    "OfferBrief",
    "QueueReport",
    "RecipientCheck",
    "RecordingMailer",
    "RouteDecision",
    "Router",
    "SendReport",
    "SmtpMailer",
    "StaticMxResolver",
    "Unsubscribe",
    "add_opt_out",
    "build_composer",
    "build_message",
    "check_draft",
    "check_recipient",
    "classify_mx",
    "company_brief",
    "contact_brief",
    "draft_key",
    "draft_messages",
    "email_hash",
    "fallback_draft",
    "forget",
    "import_csv",
    "list_opt_outs",
    "load_offer",
    "new_message_id",
    "opt_out_reason",
    "parse_offer",
    "preview_draft",
    "queue_messages",
    "recover_stale_sending",
    "send_queued",
]
