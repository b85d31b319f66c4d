"""Classify one raw inbound message: bounce (hard/soft), auto-reply, reply, unsubscribe request or other."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from email.message import Message
from typing import TypedDict

from leadgen.mailbox import autoreply, dsn, human, mime, sesjson, textbounce
from leadgen.mailbox.kinds import BOUNCES, Classification, MailKind
from leadgen.mailbox.severity import enhanced_status, enhanced_statuses, severity

__all__ = ["classify"]

_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_FLUFL_BYTES = 64_000  # flufl.bounce scans every line with many patterns: it gets the start of a big message


def classify(raw: bytes) -> Classification:
    """The verdict on one raw RFC 5322 message. Pure; never raises, whatever the bytes."""
    try:
        return _classify(bytes(raw) if not isinstance(raw, bytes) else raw)
    except Exception as exc:  # the last guard: a classifier bug must not stop a mailbox sync
        return Classification(MailKind.OTHER, reason=f"error:{type(exc).__name__}")


def _classify(raw: bytes) -> Classification:
    msg = mime.parse(raw)
    facts = _Facts(msg)
    facts.raw_head = raw[:_FLUFL_BYTES] if len(raw) > _FLUFL_BYTES else None
    verdict = _bounce(msg, facts)
    if verdict is not None:
        return verdict
    return _person_or_robot(msg, facts)


class _BaseFields(TypedDict):
    """The Classification fields every verdict carries (`_Facts.base`)."""

    sender: str | None
    inbound_message_id: str | None
    subject: str | None
    date: datetime | None


class _BounceIds(TypedDict):
    """The Message-ID fields of a bounce verdict (`_bounce_ids`)."""

    message_id: str | None
    references: tuple[str, ...]


class _CommonFields(_BaseFields, _BounceIds):
    """Every field a verdict on a person's or a robot's message shares."""


class _Facts:
    """Headers every rule reads, decoded once."""

    def __init__(self, msg: Message) -> None:
        self.subject = mime.header(msg, "Subject")
        self.sender = mime.address(msg, "From")
        ids = mime.message_ids(mime.header(msg, "Message-ID"))
        self.inbound_id = ids[0] if ids else None
        self.date = _date(mime.header(msg, "Date"))
        in_reply_to = mime.message_ids(mime.header(msg, "In-Reply-To"))
        references = mime.message_ids(
            " ".join(mime.decode_header_value(v) for v in mime.raw_headers(msg, "References"))
        )
        self.in_reply_to = in_reply_to
        self.raw_head: bytes | None = None  # the start of a message too big to hand to flufl.bounce whole
        self.reply_refs = _unique([*in_reply_to, *reversed(references)])

    def base(self) -> _BaseFields:
        return {
            "sender": self.sender,
            "inbound_message_id": self.inbound_id,
            "subject": self.subject or None,
            "date": self.date,
        }


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _unique(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _bounce(msg: Message, facts: _Facts) -> Classification | None:
    """A bounce (or a report that is not one) by the first rule that recognises it: a DSN's MIME report, an
    Amazon SES JSON notice, a read receipt, then the text of a bounce; None when the message is no bounce."""
    readable = textbounce.readable_text(msg)
    split = textbounce.split_original(readable)
    statuses = dsn.recipient_statuses(msg)
    if statuses:
        return _dsn_bounce(msg, split, facts, statuses)
    notice = sesjson.parse_notice(readable) if re.search(r"amazonses|amazonaws", raw_sender(msg)) else None
    if notice is not None:
        ids: _BounceIds = {
            "message_id": notice.message_id,
            "references": (notice.message_id,) if notice.message_id else (),
        }
        return Classification(
            notice.kind,
            reason=notice.reason,
            recipients=notice.recipients,
            status=notice.status,
            **ids,
            **facts.base(),
        )
    if _is_mdn(msg):
        return Classification(MailKind.OTHER, reason="mdn", **_bounce_ids(msg, split, facts), **facts.base())
    has_original = _original_headers(msg) is not None
    if not textbounce.looks_like_bounce(msg, facts.subject, split.diagnostic, has_original=has_original):
        return None
    return _text_bounce(msg, readable, split, facts)


def _dsn_bounce(
    msg: Message, split: textbounce.TextBounce, facts: _Facts, statuses: list[dsn.RecipientStatus]
) -> Classification:
    """A delivery status notification (RFC 3464): its per-recipient statuses decide the kind."""
    found = dsn.verdict(statuses, split.diagnostic)
    if found.kind not in BOUNCES:
        return Classification(
            MailKind.OTHER, reason=found.reason, **_bounce_ids(msg, split, facts), **facts.base()
        )
    recipients = list(found.recipients)
    if not recipients:
        recipients = _text_recipients(msg, split, facts)
    status = found.status or enhanced_status(split.diagnostic)
    return Classification(
        found.kind,
        reason=found.reason,
        recipients=tuple(recipients),
        status=status,
        **_bounce_ids(msg, split, facts),
        **facts.base(),
        extra={"delayed": found.reason == "dsn-delayed", "recipient_statuses": _per_recipient(statuses)},
    )


def _text_bounce(msg: Message, readable: str, split: textbounce.TextBounce, facts: _Facts) -> Classification:
    """A bounce known only by its text: RFC 3464 fields written inline, a success notice, or the vendor's words
    (hard when any status code the text shows is hard)."""
    ids = _bounce_ids(msg, split, facts)
    inline = [s for s in dsn.parse_status_text(readable) if s.action or s.status]
    if inline:  # RFC 3464 fields written into the text (a report whose MIME structure was lost)
        found = dsn.verdict(inline, split.diagnostic)
        if found.kind in BOUNCES:
            recipients = list(found.recipients) or _text_recipients(msg, split, facts)
            return Classification(
                found.kind,
                reason="dsn-inline",
                recipients=tuple(recipients),
                status=found.status or enhanced_status(split.diagnostic),
                **ids,
                **facts.base(),
            )
    if textbounce.is_success_notice(facts.subject, split.diagnostic):
        return Classification(MailKind.OTHER, reason="text-success", **ids, **facts.base())
    recipients = _text_recipients(msg, split, facts)
    status = enhanced_status(split.diagnostic)
    delayed = textbounce.is_delay(facts.subject, split.diagnostic)
    if delayed:
        kind = MailKind.SOFT_BOUNCE
    else:
        # Hard when any code the text shows is hard (a multi-recipient bounce: one full, one unknown).
        codes = _unique([status, *enhanced_statuses(split.diagnostic)]) if status else [None]
        kinds = {severity(code, split.diagnostic) for code in codes}
        kind = MailKind.HARD_BOUNCE if MailKind.HARD_BOUNCE in kinds else MailKind.SOFT_BOUNCE
    return Classification(
        kind,
        reason=textbounce.vendor(msg, split.diagnostic),
        recipients=tuple(recipients),
        status=status,
        **ids,
        **facts.base(),
        extra={"delayed": delayed},
    )


def _per_recipient(statuses: list[dsn.RecipientStatus]) -> list[dict[str, object]]:
    """The DSN's per-recipient blocks as plain values (for logs and the effects' status codes)."""
    return [
        {
            "addresses": list(s.addresses),
            "action": s.action,
            "status": s.status,
            "diagnostic": s.diagnostic[:300],
        }
        for s in statuses[:50]
    ]


def raw_sender(msg: Message) -> str:
    """From and Return-Path as one lowercase string (to spot a sending service)."""
    return " ".join(mime.header(msg, name) for name in ("From", "Return-Path", "Sender")).lower()


def _is_mdn(msg: Message) -> bool:
    """A read receipt (RFC 8098) or an abuse feedback report (RFC 5965): reports, but not bounces."""
    if mime.content_type(msg) != "multipart/report":
        return False
    return (mime.param(msg, "report-type") or "").lower() in ("disposition-notification", "feedback-report")


def _text_recipients(msg: Message, split: textbounce.TextBounce, facts: _Facts) -> list[str]:
    names = ("To", "Return-Path", "Delivered-To", "X-Original-To", "Envelope-To")
    ours = {a for name in names if (a := mime.address(msg, name))}
    exclude = {facts.sender} if facts.sender else set()
    original = _original_headers(msg)
    if original is not None:
        exclude |= {a for name in ("From", "Sender", "Return-Path") if (a := mime.address(original, name))}
    quoted_sender = textbounce.original_sender(split)
    if quoted_sender:
        exclude.add(quoted_sender)
    scanned = mime.parse(facts.raw_head) if facts.raw_head is not None else msg
    return textbounce.failed_recipients(msg, split, exclude, extra=_flufl(scanned), ours=ours)


def _flufl(msg: Message) -> list[str]:
    """What flufl.bounce's detectors (Exim, qmail, Postfix, Exchange, Yahoo, ...) report as failing.

    Each detector runs on its own, in flufl's order, until one finds something: a detector that trips over a
    malformed message (several do) is skipped instead of ending the scan with a logged traceback.
    """
    try:
        from flufl.bounce import _scan
    except ImportError:  # pragma: no cover - a declared dependency
        return []
    found: list[bytes] = []
    for detector in getattr(_scan, "_DETECTORS", ()):
        try:
            temporary, permanent = detector().process(msg)
        except Exception:  # noqa: S112 -- a detector's own bug: try the next one
            continue
        found = [*sorted(permanent), *sorted(temporary)]
        if found:
            break
    return [raw.decode("ascii", errors="ignore") if isinstance(raw, bytes) else str(raw) for raw in found]


def _original_headers(msg: Message) -> Message | None:
    attached = mime.attached_messages(msg)
    if attached:
        return attached[0]
    for ctype, text in mime.top_texts(msg):
        if ctype == "text/rfc822-headers":
            return mime.parse(text.encode("utf-8", errors="replace"))
    return None


def _bounce_ids(msg: Message, split: textbounce.TextBounce, facts: _Facts) -> _BounceIds:
    original_id = None
    original = _original_headers(msg)
    if original is not None:
        ids = mime.message_ids(mime.header(original, "Message-ID"))
        original_id = ids[0] if ids else None
    if original_id is None:
        original_id = textbounce.original_message_id(split) or dsn.original_message_id_field(msg)
    refs = _unique([i for i in (original_id, *facts.reply_refs) if i])
    return {"message_id": refs[0] if refs else None, "references": tuple(refs)}


def _is_bulk(msg: Message) -> bool:
    if mime.raw_headers(msg, "List-Id") or mime.raw_headers(msg, "List-Unsubscribe"):
        return True
    if mime.raw_headers(msg, "X-Campaign") or mime.raw_headers(msg, "X-Mailgun-Campaign-Id"):
        return True
    return mime.header(msg, "Precedence").strip().lower() in _BULK_PRECEDENCE


def _person_or_robot(msg: Message, facts: _Facts) -> Classification:
    body = mime.body_text(msg)
    text = human.new_text(body)
    refs = tuple(facts.reply_refs)
    common: _CommonFields = {
        "message_id": refs[0] if refs else None,
        "references": refs,
        **facts.base(),
    }
    in_thread = bool(refs) or human.is_reply_subject(facts.subject)
    auto_header = autoreply.header_reason(msg)
    auto_words = autoreply.subject_reason(facts.subject)
    if not auto_words and autoreply.body_reason(text) and not human.has_quote(body):
        # Out-of-office wording alone: robots answer without quoting us, people quote what they answer.
        auto_words = "body"
    bulk = _is_bulk(msg)
    if auto_header:
        # auto-generated is also what notification systems send: it counts as an answer only in a thread
        # (and not as list mail) or with out-of-office / ticket wording.
        generated_only = auto_header.startswith("auto-submitted:auto-generated")
        if not generated_only or (in_thread and not bulk) or auto_words:
            return Classification(
                MailKind.AUTO_REPLY, reason=f"rfc3834:{auto_header}", excerpt=human.excerpt(text), **common
            )
        return Classification(MailKind.OTHER, reason="auto-generated", **common)
    # A CRM or helpdesk answer to our message may carry List-Unsubscribe; a mailing list carries List-Id.
    crm_answer = bulk and bool(facts.in_reply_to) and not mime.raw_headers(msg, "List-Id")
    if bulk and not crm_answer:
        # Vacation programs send `Precedence: bulk` (or junk) too; mailing lists carry List-Id/List-Unsubscribe.
        is_list = mime.raw_headers(msg, "List-Id") or mime.raw_headers(msg, "List-Unsubscribe")
        if (auto_words or autoreply.body_reason(text)) and not is_list:
            return Classification(
                MailKind.AUTO_REPLY, reason="bulk-autoreply", excerpt=human.excerpt(text), **common
            )
        return Classification(MailKind.OTHER, reason="bulk", **common)
    if _is_spam(msg, facts.subject):
        return Classification(MailKind.OTHER, reason="spam", **common)
    unsubscribe = human.unsubscribe_reason(facts.subject, text)
    if crm_answer and unsubscribe == "unsubscribe-text":
        unsubscribe = None  # its own footer says "Unsubscribe"
    if unsubscribe and (in_thread or len(text) < 400 or unsubscribe == "unsubscribe-subject"):
        return Classification(MailKind.UNSUBSCRIBE, reason=unsubscribe, excerpt=human.excerpt(text), **common)
    if auto_words:
        return Classification(
            MailKind.AUTO_REPLY, reason=f"autoreply-{auto_words}", excerpt=human.excerpt(text), **common
        )
    if in_thread and not textbounce.sender_is_daemon(msg) and not _noreply(facts.sender):
        return Classification(MailKind.REPLY, reason="reply", excerpt=human.excerpt(text), **common)
    return Classification(MailKind.OTHER, reason="unmatched", **common)


def _is_spam(msg: Message, subject: str) -> bool:
    """Marked as spam by a filter on the way in (SpamAssassin, Rspamd, Yandex, Mail.ru, Exchange)."""
    if re.match(r"\s*(\[spam\]|\*+\s*spam\s*\*+|spam:)", subject, re.I):
        return True
    for name in ("X-Spam-Flag", "X-Spam", "X-Spam-Status"):
        if re.match(r"\s*yes\b", mime.header(msg, name), re.I):
            return True
    return False


def _noreply(sender: str | None) -> bool:
    return bool(
        sender and re.match(r"^(no-?reply|do-?not-?reply|notifications?|info-noreply)\b", sender, re.I)
    )
