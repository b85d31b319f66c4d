"""RFC 3464 delivery status notifications: the per-recipient fields of a message/delivery-status part."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from leadgen.mailbox import mime
from leadgen.mailbox.kinds import MailKind
from leadgen.mailbox.severity import enhanced_status, severity

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.[A-Za-z]{2,}"
)
_LENIENT = re.compile(r"[^\s<>;:,()\[\]\"@]+@[^\s<>;:,()\[\]\"@]+")  # the field says it is an address
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*):[ \t]*(.*)$")
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    addresses: tuple[str, ...]  # Original-Recipient then Final-Recipient (when they differ), lowercase
    action: str  # failed, delayed, delivered, relayed, expanded (lowercase; "" when missing)
    status: str | None  # the enhanced code of the Status field, e.g. "5.1.1"
    diagnostic: str  # Diagnostic-Code (and X-Postfix / X-Supplementary-Info text), unfolded


@dataclass(frozen=True, slots=True)
class DsnVerdict:
    kind: MailKind
    recipients: tuple[str, ...]
    status: str | None
    reason: str


def address_of(value: str) -> str | None:
    """The address of an `rfc822; user@example.com` field, lowercase (None for X.400 and Exchange X500)."""
    _, sep, rest = value.partition(";")
    candidate = (rest if sep else value).strip().strip("<>")[:500]
    if re.match(r"(?i)imceaex-|/o=|x400", candidate):
        return None
    found = _EMAIL.search(candidate) or _LENIENT.search(candidate)
    return found.group(0).lower().strip(".") if found else None


def block_text(part: Message) -> str:
    """The text of a message/* report part (delivery-status, disposition-notification), blocks kept apart."""
    try:
        payload = part.get_payload()
    except Exception:
        return ""
    if isinstance(payload, list):
        # message/delivery-status: one Message per block. Other message/* subtypes (global-delivery-status)
        # parse as one message whose headers are the first block and whose body holds the rest.
        blocks = []
        for block in payload:
            if isinstance(block, Message):
                items = mime.raw_headers_all(block)
                blocks.append("\n".join(f"{k}: {v}" for k, v in items))
                body = block.get_payload()
                if isinstance(body, str) and body.strip():
                    blocks.append(body)
        return "\n\n".join(blocks)
    return mime.part_text(part)


def _fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = None
    for line in block.split("\n"):
        if line[:1] in (" ", "\t") and last:
            fields[last] += " " + line.strip()
            continue
        found = _FIELD.match(line.strip("\r"))
        if found:
            last = found.group(1).lower()
            value = mime.decode_header_value(found.group(2))
            fields[last] = f"{fields[last]} {value}" if last in fields and last.startswith("x-") else value
        else:
            last = None
    return fields


def parse_status_text(text: str) -> list[RecipientStatus]:
    """Per-recipient blocks of delivery-status text (blocks separated by blank lines)."""
    out = []
    text = text.replace("\r\n", "\n")
    for block in re.split(r"\n[ \t]*\n", text):
        fields = _fields(block)
        if "final-recipient" not in fields and "original-recipient" not in fields:
            continue
        addresses: list[str] = []
        for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
            if name in fields:
                addr = address_of(fields[name])
                if addr and addr not in addresses and (name != "x-actual-recipient" or not addresses):
                    addresses.append(addr)
        action = fields.get("action", "").strip().lower().split(" ")[0].strip("();")
        diagnostic = " ".join(
            fields.get(name, "") for name in ("diagnostic-code", "x-postfix-sender", "x-supplementary-info")
        ).strip()
        raw_status = fields.get("status", "")
        found = re.search(r"[245]\.\d{1,3}\.\d{1,3}", raw_status)
        status = found.group(0) if found else enhanced_status(diagnostic)
        specific = enhanced_status(diagnostic)
        if status and status.endswith(".0.0") and specific and specific[0] == status[0]:
            status = specific  # Exim and Mail.ru write 5.0.0 and leave the real code to the diagnostic
        out.append(RecipientStatus(tuple(addresses), action, status, diagnostic))
    return out


def recipient_statuses(msg: Message) -> list[RecipientStatus] | None:
    """The per-recipient blocks of every delivery-status part, or None when the message has none."""
    parts = [part for part in mime.walk(msg) if mime.content_type(part) in _STATUS_TYPES]
    if not parts:
        return None
    out: list[RecipientStatus] = []
    for part in parts:
        out.extend(parse_status_text(block_text(part)))
    return out


def verdict(statuses: list[RecipientStatus], readable: str = "") -> DsnVerdict:
    """Kind, failed recipients and status of a DSN from its per-recipient blocks.

    A failure ("failed", or the non-standard "error") is hard or soft by its code and diagnostic; "delayed" is
    a soft bounce; "delivered", "relayed" and "expanded" alone are not bounces at all.
    """
    failed = [s for s in statuses if s.action.startswith(("fail", "error", "undeliver", "bounce", "expired"))]
    delayed = [s for s in statuses if s.action.startswith("delay")]
    unknown = [s for s in statuses if not s.action]
    if not failed and not delayed and unknown:
        # No Action field: decide by the code (5 permanent, 4 transient, 2 success).
        failed = [s for s in unknown if (s.status or "").startswith(("4", "5"))]
    if failed:
        kinds = [severity(s.status, s.diagnostic or readable) for s in failed]
        kind = MailKind.HARD_BOUNCE if MailKind.HARD_BOUNCE in kinds else MailKind.SOFT_BOUNCE
        chosen = [s for s, k in zip(failed, kinds, strict=True) if k == kind] or failed
        return DsnVerdict(kind, _addresses(failed), chosen[0].status, "dsn")
    if delayed:
        return DsnVerdict(MailKind.SOFT_BOUNCE, _addresses(delayed), delayed[0].status, "dsn-delayed")
    return DsnVerdict(MailKind.OTHER, (), None, "dsn-success")


def _addresses(statuses: list[RecipientStatus]) -> tuple[str, ...]:
    out: list[str] = []
    for s in statuses:
        for addr in s.addresses:
            if addr not in out:
                out.append(addr)
    return tuple(out)


_ORIGINAL_ID = re.compile(r"(?im)^(?:X-)?Original-Message-ID:[ \t]*(<[^<>\s]{1,250}>)")


def original_message_id_field(msg: Message) -> str | None:
    """The Original-Message-ID field of a DSN or MDN report part (Gmail, RFC 8098), when present."""
    for part in mime.walk(msg):
        ctype = mime.content_type(part)
        if ctype.startswith("message/") and ctype not in ("message/rfc822", "message/global"):
            found = _ORIGINAL_ID.search(block_text(part))
            if found:
                return found.group(1)
    return None
