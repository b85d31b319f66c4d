"""Non-standard bounces: what Exim, qmail, Postfix, Exchange, Gmail, Yandex, Mail.ru... write without RFC 3464."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from leadgen.mailbox import mime
from leadgen.mailbox.severity import HARD_WORDS

EMAIL = re.compile(
    r"(?<![\w.+\-=])[A-Za-z0-9][A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]{0,63}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}(?![\w\-])"
)
# An address in a recipient position (anonymised samples use one-letter TLDs; the position vouches for it).
_LENIENT = re.compile(r"[^\s@<>()\[\],;:\"']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_DAEMON_LOCAL = re.compile(
    r"^(mailer-?daemon|mail-?daemon|post_?master|mdaemon|mail\.?delivery|maildelivery|bounces?|"
    r"mail-?delivery-?(system|subsystem)|nobody|mail-?router|smtp-?gateway)$",
    re.I,
)
_DAEMON_NAME = re.compile(
    r"mail delivery (system|subsystem|service)|mailer[- ]daemon|postmaster|microsoft outlook|"
    r"mail administrator|system administrator|почтов\w+ (сервер|служба|система)|mail router|"
    r"delivery status notification|служба доставки",
    re.I,
)
SUBJECT = re.compile(
    r"undeliver|undelivered|non[- ]?deliver|not delivered|delivery (status notification|failure|failed|"
    r"notification|problem|report)|failure notice|mail delivery failed|returned mail|returned to sender|"
    r"mail system error|could not (be )?deliver|couldn't be delivered|delivery has failed|message not sent|"
    r"недостав|не доставлен|не удалось доставить|ошибка доставки|возврат письма|уведомление о доставке|"
    r"mail failure|delivery incomplete|warning: message .* delayed|delayed mail|delivery delayed|"
    r"rejected|message (blocked|rejected)|address not found|nondeliverable|mail failed|error sending|"
    r"there was an error|delivery problem|returned message|message (could not|couldn't) be delivered|"
    r"delivery warning|failed mail|processing error|non remis|unzustellbar|non recapitabile|no entregado",
    re.I,
)
# Phrases only a bounce contains (in its own text, before the returned original).
BODY = re.compile(
    r"mail delivery software|could not be delivered|couldn'?t be delivered|was not delivered|"
    r"wasn'?t delivered|could not deliver|unable to deliver|undeliverable|delivery (has )?failed|"
    r"delivery to the following recipients? (failed|was aborted)|permanent (fatal )?error|"
    r"qmail-send program|following addresses? (had|failed)|returned to sender|address not found|"
    r"the email account that you tried to reach|message (was )?not accepted|"
    r"i'?m sorry to have to inform you|the mail system|delivery status notification|"
    r"your message .{0,80}(couldn'?t|could not|cannot|can'?t) be delivered|failed to deliver|"
    r"not be delivered to one or more|has not been delivered|delivery attempts? (will continue|failed)|"
    r"сообщение не (было )?доставлено|письмо не (может быть |было )?доставлено|не удалось доставить|"
    r"не может быть доставлено|создано автоматически|недоставленное сообщение|нет такого пользователя|"
    r"не доставлено|ошибка доставки|к сожалению, ваше (письмо|сообщение)|did not reach|could not be reached|"
    r"trouble delivering|error (delivering|sending) your (mail|message)|rejected recipient|failed addresses|"
    r"had delivery problems|delivery problems?|not be delivered|cannot be delivered|can'?t be delivered|"
    r"mail failed|message could not be sent|has been rejected|was rejected|recipient rejected|"
    r"(mail|message) has been returned|returned because|has been postponed|n'a pas pu [eê]tre d[ée]livr|"
    r"не удалось доставить|не может быть доставлено|не доставлено на адрес",
    re.I,
)
_STRONG_BODY = re.compile(
    r"this message was created automatically by mail delivery software|this is the qmail-send program|"
    r"i'?m sorry to have to inform you that your message could not|delivery has failed to these recipients|"
    r"this is the mail system at host|the following message to <[^>]+> was undeliverable|"
    r"это письмо создано автоматически|----- transcript of session follows -----|"
    r"the email account that you tried to reach does not exist|"
    r"delivery to the following recipients? failed permanently|message was not accepted -- invalid mailbox",
    re.I,
)
_SUCCESS = re.compile(
    r"\((success|relay)\)|^(delivered|relayed|доставлено|прочитано|read|not read|прочтено):|"
    r"^successful mail delivery|^письмо доставлено|^message delivered|^delivery report: delivered|"
    r"delivery (notification|report): (delivery )?(succeeded|delivered)",
    re.I,
)
_DELAY = re.compile(
    r"\(delay\)|delayed|delivery delayed|still (being )?(retried|trying)|will (be )?retr|"
    r"has not yet been delivered|not yet been delivered|задерж|отложен|пока не доставлено",
    re.I,
)
# Where the returned original starts inside a text bounce.
_ORIGINAL = re.compile(
    r"^[ \t>]*(-{2,}[ \t]*)?("
    r"this is a copy of the message|below this line is a copy of the message|original message follows|"
    r"original message headers|(original|returned) message[ \t]*(-{2,}|:?[ \t]*$)|returned mail follows|"
    r"message headers follow|headers of the original message|copy of the original message|"
    r"here is a copy of the first part of the message|"
    r"заголовки исходного сообщения|исходное сообщение|копия (исходного )?сообщения|оригинал сообщения|"
    r"original message text|end of transcript"
    r")|^(Return-Path|Received|DKIM-Signature|ARC-Seal|X-Received|Message-ID|MIME-Version):[ \t]",
    re.I | re.M,
)
_QUOTED_ID = re.compile(r"(?im)^[ \t>]*Message-I[dD]:[ \t]*(<[^<>\s]{1,250}>)")

# Addresses in positions only failed recipients take.
_SPECIFIC = [
    re.compile(r"(?m)^[ \t]*<([^<>@\s]+@[^<>@\s]+)>(?:[ \t]*\([^)]*\))?:"),  # Postfix, qmail "<a@b>:"
    re.compile(
        r"(?im)^[ \t]*<?([^<>@\s:]+@[^<>@\s:]+?)>?[ \t]*\r?\n[ \t]+(?:host |SMTP error|mailbox |retry |"
        r"unrouteable|all relevant|all hosts|domain |\(generated from|Unrouteable)"
    ),  # Exim
    # An address alone on its line, maybe indented, bracketed or followed by a colon (Exim, Domino, 1&1, Sendmail).
    re.compile(r"(?im)^[ \t]*<?([^<>@\s]+@[^<>@\s]+?)>?:?[ \t]*$"),
    re.compile(r"(?i)RCPT TO:?[ \t]*<([^<>@\s]+@[^<>@\s]+)>"),
    re.compile(r"(?m)^[45]\d\d[ -]<([^<>@\s]+@[^<>@\s]+)>\.\.\."),  # Sendmail "550 <a@b>... User unknown"
    re.compile(r"(?i)(?:Original|Final)-Recipient:[ \t]*(?:rfc822;)?[ \t]*<?([^<>@\s;]+@[^<>@\s;]+?)>?\s"),
    re.compile(
        r"(?i)your message to:?[ \t]*<?([^<>@\s]+@[^<>@\s]+?)>?[ \t]+(?:couldn|could not|has|was|can)"
    ),
    re.compile(
        r"(?i)(?:wasn'?t|was not|could not be|couldn'?t be|cannot be) delivered to:?[ \t]*<?([^<>@\s]+@[^<>@\s,]+?)>?[\s.,]"
    ),
    re.compile(r"(?i)(?:local )?mailbox[ \t]+<?([^<>@\s]+@[^<>@\s]+?)>?[ \t]+is unavailable"),
    re.compile(
        r"(?i)delivery to the following recipients? failed(?: permanently)?:?\s+<?([^<>@\s]+@[^<>@\s]+?)>?\s"
    ),
    re.compile(r"(?i)(?:recipient|address|получател\w*|адрес\w*):[ \t]*<?([^<>@\s]+@[^<>@\s,;]+?)>?[\s,;]"),
    re.compile(r"(?i)(?:for|to|address|user|получателя|адрес|recipient)[ \t]+<([^<>@\s]+@[^<>@\s]+)>"),
    re.compile(
        r"(?i)(?:deliver|delivering|send|sending)[ \t]+your[ \t]+(?:mail|message)[ \t]+to[ \t]+<?([^<>@\s]+@[^<>@\s]+?)>?[\s.,]"
    ),
    re.compile(r"(?im)^[ \t]*([^<>@\s()]+@[^<>@\s()]+)[ \t]+\(\1\)"),  # Exchange "a@b (a@b)"
    # Russian Exchange, Office 365 and Gmail: "сообщение для a@b", "не доставлено на адрес a@b", "получателю a@b".
    re.compile(
        r"(?i)(?:сообщение для|письмо для|на адрес|по адресу|адресату|получателю|получателям)[ \t]*:?[ \t]*"
        r"<?([^<>@\s]+@[^<>@\s,;]+?)>?[\s.,;:]"
    ),
    re.compile(
        r"(?i)\(([^()@\s]+@[^()@\s]+)\)[ \t]+(?:not listed|is not)"
    ),  # Domino "User x (a@b) not listed"
]


_NOT_RECIPIENT = re.compile(
    r"(?i)(?:message sent by|sent by|mail from|envelope-from|from|sender|sender address|return-path|"
    r"message-id|in-reply-to|references|отправитель)[ \t]*:?\s{0,8}<?([^<>@\s\"]+@[^<>@\s\"]+?)>?[\s,;]"
)


@dataclass(frozen=True, slots=True)
class TextBounce:
    """What the text of a bounce shows: its own diagnostic section and the returned original."""

    diagnostic: str  # the bounce's own words, before the returned original
    original: str  # the quoted original (headers and maybe body), if inline


def sender_is_daemon(msg: Message) -> bool:
    """True when From (or Sender) is a mailer daemon, postmaster or delivery system, or From is empty."""
    raw_from = mime.header(msg, "From").strip()
    if raw_from in ("", "<>") and mime.raw_headers(msg, "From"):
        return True
    for name in ("From", "Sender"):
        addr = mime.address(msg, name) or ""
        local = addr.split("@", 1)[0]
        if local and _DAEMON_LOCAL.match(local):
            return True
        if _DAEMON_NAME.search(mime.display_name(msg, name) or mime.header(msg, name)):
            return True
    return False


MAX_DIAGNOSTIC = 60_000  # characters of a bounce's own text that are searched (real ones are a few KB)


def split_original(text: str) -> TextBounce:
    """The bounce's own text and the returned original that follows it (each capped)."""
    bounce = _split(text[: MAX_DIAGNOSTIC * 4])
    return TextBounce(bounce.diagnostic[:MAX_DIAGNOSTIC], bounce.original[: MAX_DIAGNOSTIC * 2])


def _split(text: str) -> TextBounce:
    found = _ORIGINAL.search(text)
    if found and found.start() > 0:
        return TextBounce(text[: found.start()], text[found.start() :])
    if found:
        # The text starts with quoted headers: nothing of its own before them.
        return TextBounce("", text)
    return TextBounce(text, "")


def readable_text(msg: Message) -> str:
    """The bounce's readable text: its text parts outside attached messages (HTML turned to text)."""
    texts = []
    for ctype, text in mime.top_texts(msg):
        if ctype in ("text/rfc822-headers", "message/delivery-status", "message/global-delivery-status"):
            continue
        if ctype == "text/html" and any(c == "text/plain" for c, _ in mime.top_texts(msg)):
            continue
        texts.append(text)
    return "\n\n".join(texts)


def looks_like_bounce(msg: Message, subject: str, diagnostic: str, *, has_original: bool = False) -> bool:
    """True when sender, subject and text together say "your message was not delivered"."""
    if mime.raw_headers(msg, "X-Failed-Recipients"):
        return True
    report = mime.content_type(msg) == "multipart/report" and (
        (mime.param(msg, "report-type") or "").lower() in ("delivery-status", "global-delivery-status")
    )
    daemon = sender_is_daemon(msg)
    if not daemon and re.match(r"\s*(re|fwd?|aw|ответ|отв|пересл)\s*:", subject, re.I):
        return False
    head = diagnostic[:20000]
    subject_hit = bool(SUBJECT.search(subject))
    body_hit = bool(BODY.search(head))
    failure_words = bool(HARD_WORDS.search(head) or _FULL.search(head))
    if daemon and (subject_hit or body_hit or failure_words or _RCPT_REPLY.search(head)):
        return True
    if subject_hit and (body_hit or failure_words):
        return True
    if report and (subject_hit or body_hit or failure_words):
        return True
    if body_hit and has_original and (failure_words or _RCPT_REPLY.search(head)):
        return True
    return bool(_STRONG_BODY.search(head))


_FULL = re.compile(r"mailbox (is )?full|over ?quota|quota exceeded|ящик переполнен", re.I)
_RCPT_REPLY = re.compile(r"RCPT TO.{0,200}\b[45]\d\d\b|\b[45]\d\d[ -].{0,120}\brecipient", re.I | re.S)


def is_success_notice(subject: str, diagnostic: str) -> bool:
    """A delivery or read receipt rather than a failure."""
    if _SUCCESS.search(subject.strip()):
        return True
    return bool(
        re.search(
            r"delivery to the following recipients? (was )?(completed|succeeded)|"
            r"your message (has been|was) (successfully )?delivered|successfully relayed|"
            r"было успешно доставлено|успешно доставлено",
            diagnostic,
            re.I,
        )
        and not BODY.search(
            re.sub(r"(?i)has been delivered|was delivered|успешно доставлено", "", diagnostic)
        )
    )


def is_delay(subject: str, diagnostic: str) -> bool:
    """A "still trying" warning rather than a final failure."""
    if re.search(r"\(delay\)|delayed|задерж", subject, re.I):
        return True
    head = diagnostic[:3000]
    final = re.search(
        r"permanent|gave up|giving up|could not be delivered|failed|не доставлено|"
        r"не удалось",
        head,
        re.I,
    )
    return bool(_DELAY.search(head)) and not final


def failed_recipients(
    msg: Message,
    bounce: TextBounce,
    exclude: set[str],
    extra: tuple[str, ...] | list[str] = (),
    *,
    ours: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Failed addresses of a text bounce: X-Failed-Recipients, addresses in recipient positions and `extra`
    (what flufl.bounce found); only when none, any address in the bounce's own text that is not ours, the
    daemon's or the original sender's. `ours` (the bounce's To, Delivered-To, ...) is left out too, unless
    nothing else is found: a test sent to itself fails for its own address."""
    out: list[str] = []

    first = exclude | set(ours)

    def add(addr: str, *, excluded: set[str] = first, daemons: bool = False, strict: bool = False) -> None:
        addr = addr.strip().strip("<>.,;:'\"()[]").lower()
        if addr.startswith("mailto:"):
            addr = addr[7:]
        if not (EMAIL if strict else _LENIENT).fullmatch(addr) or addr in excluded or addr in out:
            return
        if not daemons and _DAEMON_LOCAL.match(addr.split("@", 1)[0]):
            return
        out.append(addr)

    for value in mime.raw_headers(msg, "X-Failed-Recipients"):
        for addr in re.split(r"[,\s]+", mime.decode_header_value(value)):
            add(addr, excluded=set(), daemons=True)  # the MTA's own word: trusted as it is
    text = bounce.diagnostic
    # Sender-side addresses and Message-IDs the bounce's own text mentions are never failed recipients.
    first |= {m.group(1).lower().strip(".,;:") for m in _NOT_RECIPIENT.finditer(text)}
    for pattern in _SPECIFIC:
        for found in pattern.finditer(text):
            add(found.group(1))
    for addr in extra:
        add(addr)
    if not out:
        for found in EMAIL.finditer(text):
            add(found.group(0), strict=True)
    if not out:
        # The failed address can be the bounce's own To (a test sent to itself) or a postmaster address.
        for pattern in _SPECIFIC:
            for found in pattern.finditer(text):
                add(found.group(1), excluded=set(), daemons=True)
    if not out:
        for found in EMAIL.finditer(text):
            add(found.group(0), excluded=exclude, strict=True)
    return out


def original_message_id(bounce: TextBounce) -> str | None:
    """The Message-ID line of the original's headers quoted in a text bounce."""
    found = _QUOTED_ID.search(bounce.original) or _QUOTED_ID.search(bounce.diagnostic)
    return found.group(1) if found else None


def original_sender(bounce: TextBounce) -> str | None:
    """The From address of the original quoted in a text bounce (ours), lowercase."""
    found = re.search(r"(?im)^[ \t>]*From:[ \t]*(.*)$", bounce.original)
    if not found:
        return None
    addr = EMAIL.search(found.group(1))
    return addr.group(0).lower() if addr else None


_VENDORS = [
    ("qmail", re.compile(r"qmail-send program", re.I)),
    ("mailru", re.compile(r"mail\.ru", re.I)),
    ("yandex", re.compile(r"yandex", re.I)),
    ("rambler", re.compile(r"rambler", re.I)),
    ("gmail", re.compile(r"google|gmail", re.I)),
    (
        "exchange",
        re.compile(r"delivery has failed to these recipients|microsoft|outlook|exchange|resolver\.", re.I),
    ),
    ("domino", re.compile(r"domino|delivery failure:|lotus", re.I)),
    ("exim", re.compile(r"mail delivery software|exim", re.I)),
    ("sendmail", re.compile(r"transcript of session follows|sendmail", re.I)),
    ("postfix", re.compile(r"this is the mail system at host|postfix", re.I)),
]


def vendor(msg: Message, diagnostic: str) -> str:
    """A short name of the software that most likely wrote a text bounce (for `Classification.reason`)."""
    hay = " ".join((mime.header(msg, "From"), mime.header(msg, "Subject"), diagnostic[:4000]))
    for name, pattern in _VENDORS:
        if pattern.search(hay):
            return name
    return "text"
