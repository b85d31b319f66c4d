"""A person's own words: quoted history stripped, reply markers, and unsubscribe requests (RU and EN)."""

from __future__ import annotations

import re

REPLY_SUBJECT = re.compile(
    r"^\s*(\[[^\]]{0,40}\]\s*)?(re|ha|aw|sv|vs|antw|ответ|отв|re\[\d+\]|re\(\d+\))\s*:", re.I
)
FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|пересл|переслано|wg)\s*:", re.I)

# Lines that start the quoted history (the rest of the text is someone else's): separators, attribution
# lines of Gmail, Outlook, Apple Mail, Thunderbird, Yandex, Mail.ru and The Bat!, and Outlook header blocks.
_QUOTE_STARTS = [
    re.compile(
        r"^[ \t]*-{2,}[ \t]*(original message|исходное сообщение|пересылаемое сообщение|forwarded message|"
        r"переадресованное сообщение|оригинальное сообщение|message d'origine|ursprüngliche nachricht)",
        re.I | re.M,
    ),
    re.compile(r"^[ \t]*_{8,}[ \t]*$", re.M),
    re.compile(
        r"^[ \t]*\*?(from|от|отправитель|von|de)\*?[ \t]*:.*\n[ \t]*\*?(sent|date|отправлено|дата|gesendet|"
        r"envoyé|to|кому)\*?[ \t]*:",
        re.I | re.M,
    ),
    re.compile(
        r"^[ \t]*(on|am|le)\s[^\n]{1,200}(\n[^\n]{0,120})?\b(wrote|schrieb|a écrit)\s*:[ \t]*$", re.I | re.M
    ),
    re.compile(r"^[^\n]{0,200}\b(пишет|написал\(а\)|написала|написал)\s*:[ \t]*$", re.I | re.M),
    re.compile(r"^[^\n]{0,120}\d{1,2}[:.]\d{2}[^\n]{0,120}<[^<>\s]+@[^<>\s]+>\s*:?[ \t]*$", re.M),
    re.compile(r"^[^\n]{0,60}\d{1,2}[:.]\d{2}[^\n]{0,80}\bот\b[^\n]{0,80}:[ \t]*$", re.I | re.M),
    re.compile(r"^[^\n]{0,40}\b(вы писали|you wrote)\b[^\n]{0,80}:[ \t]*$", re.I | re.M),  # The Bat!
    re.compile(
        r"^[^\n]{0,200}<[^<>\s]+@[^<>\s]+>[^\n]{0,40}\b(wrote|пишет|написал\w*)\b[^\n]{0,10}$", re.I | re.M
    ),
    re.compile(r"^[ \t]*-{5,}[ \t]*$", re.M),
    re.compile(r"^[ \t]*(sent from my \w+|отправлено с (iphone|моего \w+))", re.I | re.M),
]
_SIGNATURE = re.compile(
    r"^(--|-- |__|с уважением|best regards|kind regards|regards|thanks|спасибо),?\s*$", re.I | re.M
)

# A person asking to be left alone. Only the subject and the new text are looked at.
UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bremove (me|us|my (e-?mail|address)|this (e-?mail|address))\b|"
    r"\btake (me|us) off\b|\bstop (e-?mailing|emailing|sending|writing|contacting|spamming)\b|"
    r"\b(do not|don'?t|never) (e-?mail|email|write|contact|send)\b.{0,30}\b(me|us|again|anymore|any more)\b|"
    r"\bno (more|further) (e-?mails|emails|messages|mail)\b|\bopt[- ]?out\b|"
    r"\bnot interested\W.{0,80}\b(stop|remove|don'?t|do not)\b|\bdelete (me|us|my) (from|address)|"
    r"\bout of your (list|mailing|database)\b|"
    r"отпис(аться|ать|ывать|ка|ывайте)|отпишите(?!сь)|"
    r"(удалит[еь]|исключит[еь]|уберит[еь])\b.{0,60}?\b(из|с)\s+(ваш\w*\s+|эт\w+\s+|ваших\s+)?(рассыл|баз|списк|адресат|контакт)|"
    r"не\s+беспокойте|не\s+(пишите|присылайте|отправляйте|рассылайте|пиши)\s*(нам|мне|больше|сюда|"
    r"на\s+(этот|наш|мой|данный)|писем|письма|рассылк|[.!,]|$)|"
    r"прошу\s+(больше\s+)?не\s+(присылать|писать|отправлять|беспокоить)|"
    r"больше\s+не\s+(пишите|присылайте|отправляйте|беспокойте)|"
    r"не\s+интерес\w+.{0,60}(не\s+пиш|удалит|отпиш|не\s+присыл)|уберите\s+(нас|меня|наш|мой)|"
    r"спам\w*.{0,30}(не\s+пиш|удалит|прекратит)|прекратите\s+(рассылку|присылать|писать|отправлять|спам)|"
    r"\bno longer (wish|want|like) to (receive|get|hear)|\bremove\b.{0,40}\b(mailing|e-?mail|contact|distribution|marketing) list|"
    r"\bdo not contact\b|\bstop (all )?(e-?mails|emails|messages)\b|"
    r"вычеркните|хватит\s+(спамить|писать|присылать|слать)|не\s+(надо|нужно)\s+(нам\s+|мне\s+)?(больше\s+)?"
    r"(писать|присылать|слать|отправлять)|исключите\s+(нас|меня|наш\w*|мой)\b",
    re.I | re.S,
)
# A message that is nothing but one of these words.
_BARE_REQUEST = re.compile(
    r"^\W*(please\s+|пожалуйста,?\s+)?(stop|стоп|unsubscribe|отписаться|отписка|remove|удалить|удалите)"
    r"(,?\s+(please|пожалуйста))?\W*$",
    re.I,
)
# Phrases that look like the words above but are a footer or a link (ours quoted back, or a newsletter's).
_NOT_REQUEST = re.compile(
    r"(отписаться|unsubscribe)\s*[:\-–—]\s*(<?(mailto:|https?://)|\S+@)|"
    r"(to|click here to|you can|if you (wish|want|would like) to|чтобы|можете|для того,? чтобы)\s+"
    r"(unsubscribe|отписаться)|"
    r"(unsubscribe|отписаться)\s+(here|link|здесь|по ссылке|от рассылки можно)|<https?://[^>]*unsub",
    re.I,
)


def new_text(body: str) -> str:
    """The text above the first quoted-history marker, without '>' lines."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    starts = [found.start() for pattern in _QUOTE_STARTS if (found := pattern.search(body))]
    if not starts:
        return _unquoted(body)
    cut = min(starts)
    above = body[:cut].rstrip(" \t")
    if above and not above.endswith("\n\n"):
        # A two-line attribution ("02.04.2012 14:20 пользователь "Bob" <\nbob@example.org> написал:").
        previous = above.rstrip("\n").rsplit("\n", 1)[-1]
        if _ATTRIBUTION_HEAD.search(previous):
            cut = len(above.rstrip("\n")) - len(previous)
    new = _unquoted(body[:cut])
    if new:
        return new
    # Bottom-posting: the '>' quote comes first and the answer below its last line.
    lines = body[cut:].split("\n")
    quoted = [i for i, line in enumerate(lines) if line.lstrip().startswith(">")]
    return "\n".join(lines[quoted[-1] + 1 :]).strip() if quoted else ""


_ATTRIBUTION_HEAD = re.compile(r"\d{1,2}[:.]\d{2}.{0,80}(<|@|пользователь|\bот\b)|пользователь|<\s*$", re.I)


def _unquoted(text: str) -> str:
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def has_quote(body: str) -> bool:
    """True when the body quotes earlier mail ('>' lines or an attribution/separator line)."""
    body = body.replace("\r\n", "\n")
    if re.search(r"(?m)^[ \t]*>", body):
        return True
    return any(pattern.search(body) for pattern in _QUOTE_STARTS)


def excerpt(text: str, *, lines: int = 5, limit: int = 500) -> str | None:
    """The first `lines` non-empty lines of `text`, at most `limit` characters."""
    sig = _SIGNATURE.search(text)
    if sig and sig.start() > 0:
        text = text[: sig.start()]
    kept = [line.strip() for line in text.split("\n") if line.strip()][:lines]
    out = "\n".join(kept)[:limit].strip()
    return out or None


def is_reply_subject(subject: str) -> bool:
    return bool(REPLY_SUBJECT.match(subject))


def unsubscribe_reason(subject: str, text: str) -> str | None:
    """'unsubscribe-subject' or 'unsubscribe-text' when a person asks to be left alone, else None."""
    cleaned_subject = _NOT_REQUEST.sub(" ", subject)
    if UNSUBSCRIBE.search(cleaned_subject):
        return "unsubscribe-subject"
    cleaned = _NOT_REQUEST.sub(" ", text[:3000])
    if UNSUBSCRIBE.search(cleaned) or _BARE_REQUEST.match(text[:100]) or _BARE_REQUEST.match(subject):
        return "unsubscribe-text"
    return None
