"""Amazon SES notifications sent by e-mail (SNS JSON bodies): bounces, deliveries and complaints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from leadgen.mailbox.kinds import MailKind

_MAX_JSON = 200_000


@dataclass(frozen=True, slots=True)
class SesNotice:
    kind: MailKind
    reason: str
    recipients: tuple[str, ...]
    status: str | None
    message_id: str | None


def parse_notice(body: str) -> SesNotice | None:
    """The notice in a body that is one SES notification object, or None when it is not one."""
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start or "notificationType" not in body[start : start + 2000]:
        return None
    try:
        data = json.loads(body[start : end + 1][:_MAX_JSON], strict=False)
        if isinstance(data, dict) and isinstance(data.get("Message"), str):  # the SNS envelope around it
            data = json.loads(data["Message"], strict=False)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind = str(data.get("notificationType", "")).lower()
    message_id = _message_id(data.get("mail"))
    if kind != "bounce":
        return SesNotice(MailKind.OTHER, f"ses-{kind or 'notice'}", (), None, message_id)
    raw_bounce = data.get("bounce")
    bounce: dict[str, Any] = raw_bounce if isinstance(raw_bounce, dict) else {}
    recipients: list[str] = []
    status = None
    for item in bounce.get("bouncedRecipients") or []:
        if not isinstance(item, dict):
            continue
        address = str(item.get("emailAddress", "")).strip().lower()
        if "@" in address and address not in recipients:
            recipients.append(address)
        status = status or (str(item["status"]) if item.get("status") else None)
    hard = str(bounce.get("bounceType", "")).lower() == "permanent"
    return SesNotice(
        MailKind.HARD_BOUNCE if hard else MailKind.SOFT_BOUNCE, "ses", tuple(recipients), status, message_id
    )


def _message_id(mail: object) -> str | None:
    if not isinstance(mail, dict):
        return None
    common = mail.get("commonHeaders")
    value = common.get("messageId") if isinstance(common, dict) else None
    if isinstance(value, str) and value.strip():
        value = value.strip()
        return value if value.startswith("<") else f"<{value}>"
    return None
