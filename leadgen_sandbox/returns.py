"""Mail that comes back to the sandbox sender: a Postfix-style RFC 3464 bounce for an unknown user, a person's reply."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

RELAY_HOST = "relay.sandbox.example"
NOTIFICATION = """\
This is the mail system at host {relay}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{rcpt}>: host {mx}[{ip}] said: 550 5.1.1 <{rcpt}>: Recipient
    address rejected: User unknown in virtual mailbox table (in reply to RCPT
    TO command)
"""
DELIVERY_STATUS = """\
Reporting-MTA: dns; {relay}
X-Postfix-Queue-ID: {queue_id}
X-Postfix-Sender: rfc822; {sender}
Arrival-Date: {arrival}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; {mx}
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User
    unknown in virtual mailbox table
"""
REPLY_TEXT = (
    "Здравствуйте, {name}!\n\n"
    "Да, нам это интересно. Пришлите, пожалуйста, презентацию и цены для двух филиалов —\n"
    "обсудим на планёрке в четверг.\n\n"
    "С уважением,\nОльга Кузнецова\nуправляющая\n"
)


def _queue_id(seed: str) -> str:
    """A Postfix long queue id look-alike, stable for one message."""
    return hashlib.sha256(seed.encode()).hexdigest()[:12].upper()


def _lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


def postfix_dsn(original: bytes, *, rcpt: str, sender: str, arrival: datetime, delay: timedelta) -> bytes:
    """The multipart/report a Postfix relay returns when the recipient's MX answers "550 5.1.1 User unknown"."""
    queue_id = _queue_id(f"{rcpt}|{arrival.isoformat()}")
    when = arrival + delay
    boundary = f"{queue_id}.{int(when.timestamp())}/{RELAY_HOST}"
    domain = rcpt.rpartition("@")[2]
    fields = {
        "relay": RELAY_HOST,
        "rcpt": rcpt,
        "sender": sender,
        "mx": f"mx.{domain}",
        "ip": "203.0.113.25",
        "queue_id": queue_id,
        "arrival": format_datetime(arrival),
    }
    head = (
        "Return-Path: <>\n"
        f"Date: {format_datetime(when)}\n"
        f"From: MAILER-DAEMON@{RELAY_HOST} (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"To: {sender}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        f'\tboundary="{boundary}"\n'
        "Content-Transfer-Encoding: 8bit\n"
        f"Message-Id: <{when:%Y%m%d%H%M%S}.{queue_id}@{RELAY_HOST}>\n"
        "\nThis is a MIME-encapsulated message.\n\n"
    )
    parts = [
        "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        + NOTIFICATION.format(**fields),
        "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        + DELIVERY_STATUS.format(**fields),
    ]
    body = "".join(f"--{boundary}\n{part}\n" for part in parts).encode()
    returned = (
        f"--{boundary}\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode()
    return head.encode() + body + returned + _lf(original).rstrip(b"\n") + f"\n\n--{boundary}--\n".encode()


def human_reply(original: bytes, *, when: datetime) -> bytes:
    """A person's answer to `original` from its recipient (Thunderbird style: quoted text, In-Reply-To)."""
    parsed = message_from_bytes(original, policy=policy.default)
    ours = str(parsed["Message-ID"] or "").strip()
    [(_, recipient)] = getaddresses([str(parsed["To"] or "")])[:1] or [("", "")]
    reply_to = str(parsed["Reply-To"] or parsed["From"] or "")
    [(their_name, their_address)] = getaddresses([reply_to])[:1] or [("", "")]
    domain = recipient.rpartition("@")[2] or "sandbox.invalid"
    msg = EmailMessage()
    msg["From"] = Address(display_name="Ольга Кузнецова", addr_spec=recipient)
    msg["To"] = Address(display_name=their_name, addr_spec=their_address)
    msg["Subject"] = "Re: " + str(parsed["Subject"] or "")
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{_queue_id(ours).lower()}.reply@{domain}>"
    msg["In-Reply-To"] = ours
    msg["References"] = ours
    msg["User-Agent"] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0"
    )
    first_name = (their_name or "коллеги").split()[0]
    quoted = "\n".join(f"> {line}".rstrip() for line in _text_of(parsed).splitlines())
    intro = f"{_date_of(parsed, when):%d.%m.%Y %H:%M}, {their_name or their_address} пишет:"
    msg.set_content(f"{REPLY_TEXT.format(name=first_name)}\n{intro}\n{quoted}\n", charset="utf-8", cte="8bit")
    return _lf(msg.as_bytes(policy=policy.SMTP))


def _text_of(parsed: EmailMessage) -> str:
    part = parsed.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _date_of(parsed: EmailMessage, default: datetime) -> datetime:
    value = parsed["Date"]
    return getattr(value, "datetime", None) or default
