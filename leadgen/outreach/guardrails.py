"""Guardrails every draft must pass: length, language, no invented links/emails/phones/prices, no placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadgen.domains import domain_key
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.template import EmailTemplate

# Links: a scheme URL, a www. host, or a bare host name with a common TLD (including .рф and punycode).
URL_RE = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>\"')]+")
BARE_DOMAIN_RE = re.compile(
    r"(?i)(?<![@\w.-])((?:[a-z0-9\u0430-\u044f\u0451](?:[a-z0-9\u0430-\u044f\u0451-]{0,61}[a-z0-9\u0430-\u044f\u0451])?\.)+"
    r"(?:ru|su|рф|com|net|org|info|biz|io|pro|online|site|store|shop|tech|app|me|co|moscow|spb|xn--p1ai|"
    r"by|kz|ua|uz|de|uk|us|eu))(?![\w-])"
)
# RFC 5322 is wider; this is the shape that appears in prose.
EMAIL_RE = re.compile(
    r"(?i)[a-z0-9._%+\-\u0430-\u044f\u0451]+@[a-z0-9\-\u0430-\u044f\u0451]+(?:\.[a-z0-9\-\u0430-\u044f\u0451]+)+"
)
# Phone-like runs: optional +, then at least 7 digits with spaces, dashes, dots or brackets between them.
PHONE_RE = re.compile(r"(?<![\w])(?:\+\s?)?(?:\d[\s\-.()]{0,3}){6,14}\d(?![\w])")
# Amounts with a currency: 1 500 ₽, 15000 руб., 99.90 $, $99, € 10, 10 тыс. рублей, 3 млн руб.
_NUM = r"\d{1,3}(?:[ \u00a0.,]\d{3})*(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_CUR = r"(?:₽|руб(?:\.|лей|ля|ль)?|р\.|rub|rur|\$|usd|€|eur|евро|долл(?:\.|аров|ара)?|дол\.)"
_MULT = r"(?:\s?(?:тыс\.?|тысяч[иа]?|млн\.?|миллион(?:ов|а)?|k|к))?"
PRICE_RE = re.compile(rf"(?i)(?:(?P<a>{_NUM}){_MULT}\s?{_CUR}(?![\w])|(?:\$|€|usd|eur)\s?(?P<b>{_NUM}))")
# Leftover template slots: {name}, {{name}}, [Company], [Имя], <Name>, $name, ${name}, %s, %(name)s, XXX, TODO.
PLACEHOLDER_RE = re.compile(
    r"\{\{?\s*[\w .\-]{1,40}\s*\}?\}"
    r"|\[\s*[A-Za-z\u0410-\u044f\u0401\u0451][\w .\-]{0,40}\]"
    r"|<\s*[A-Za-z\u0410-\u044f\u0401\u0451][\w .\-]{0,40}>"
    r"|\$\{?[A-Za-z_]\w*\}?"
    r"|%\(\w+\)s|%s\b"
    r"|\bX{3,}\b|\bTODO\b|\bTBD\b|(?i:lorem ipsum)"
)
LETTER_RE = re.compile(r"[^\W\d_]")
CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
LATIN_RE = re.compile(r"[A-Za-z]")
MIN_LANGUAGE_RATIO = 0.6


@dataclass(frozen=True, slots=True)
class GuardrailVerdict:
    """The outcome of checking one draft: `ok` when `problems` is empty."""

    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check_draft(
    draft: EmailTemplate,
    offer: OfferBrief,
    /,
    *,
    language: str = "ru",
    subject_max: int = 120,
    body_min: int = 200,
    body_max: int = 2000,
    allowed_domains: frozenset[str] = frozenset(),
) -> GuardrailVerdict:
    """Check a draft against the offer; `allowed_domains` adds bare domains the text may name (the recipient's)."""
    problems: list[str] = []
    subject, body = draft.subject, draft.body
    if not subject.strip():
        problems.append("subject is empty")
    if len(subject) > subject_max:
        problems.append(f"subject is {len(subject)} characters (max {subject_max})")
    if "\n" in subject or "\r" in subject:
        problems.append("subject has a line break")
    if len(body.strip()) < body_min:
        problems.append(f"body is {len(body.strip())} characters (min {body_min})")
    if len(body) > body_max:
        problems.append(f"body is {len(body)} characters (max {body_max})")
    text = f"{subject}\n{body}"
    lang_problem = language_problem(text, language)
    if lang_problem:
        problems.append(lang_problem)
    problems.extend(_foreign_facts(text, offer, allowed_domains))
    for match in sorted(set(PLACEHOLDER_RE.findall(text))):
        problems.append(f"placeholder left: {match}")
    return GuardrailVerdict(tuple(problems))


def language_problem(text: str, language: str) -> str | None:
    """None when the letters of `text` are mostly of `language`'s script (ru: Cyrillic, en: Latin)."""
    letters = LETTER_RE.findall(text)
    if not letters:
        return "no text"
    script = {"ru": CYRILLIC_RE, "uk": CYRILLIC_RE, "be": CYRILLIC_RE, "en": LATIN_RE}.get(language)
    if script is None:
        return None
    ratio = sum(1 for ch in letters if script.match(ch)) / len(letters)
    if ratio < MIN_LANGUAGE_RATIO:
        return f"language is not {language} ({ratio:.0%} of letters in its script)"
    return None


def _foreign_facts(text: str, offer: OfferBrief, allowed_domains: frozenset[str]) -> list[str]:
    source = offer.text
    problems: list[str] = []
    offer_links = {_link_key(u) for u in URL_RE.findall(source)} | {
        _host_key(d) for d in BARE_DOMAIN_RE.findall(source)
    }
    offer_emails = {e.lower() for e in EMAIL_RE.findall(source)}
    allowed_hosts = offer_links | {_host_key(d) for d in allowed_domains}
    emails = {e.lower() for e in EMAIL_RE.findall(text)}
    for email in sorted(emails - offer_emails):
        problems.append(f"email not in the offer: {email}")
    without_emails = EMAIL_RE.sub(" ", text)
    for url in sorted(set(URL_RE.findall(without_emails))):
        if _link_key(url) not in offer_links:
            problems.append(f"link not in the offer: {url}")
    without_urls = URL_RE.sub(" ", without_emails)
    for domain in sorted({d.lower() for d in BARE_DOMAIN_RE.findall(without_urls)}):
        if _host_key(domain) not in allowed_hosts:
            problems.append(f"link not in the offer: {domain}")
    offer_phones = {_digits(p)[-10:] for p in PHONE_RE.findall(source)}
    for phone in sorted(set(PHONE_RE.findall(without_urls))):
        digits = _digits(phone)
        if len(digits) >= 7 and digits[-10:] not in offer_phones:
            problems.append(f"phone not in the offer: {phone.strip()}")
    offer_amounts = {_amount(m) for m in PRICE_RE.finditer(source)}
    for match in PRICE_RE.finditer(text):
        if _amount(match) not in offer_amounts:
            problems.append(f"price not in the offer: {match.group(0).strip()}")
    return problems


def _host_key(host: str) -> str:
    """A host named in prose, in the canonical form of `leadgen.domains` (punycode and Unicode spellings meet)."""
    return domain_key(host) or host.lower()


def _link_key(url: str) -> str:
    key = url.lower().rstrip(".,;:!?")
    for prefix in ("https://", "http://", "ftp://"):
        key = key.removeprefix(prefix)
    host, slash, rest = key.partition("/")
    return f"{_host_key(host)}{slash}{rest}".rstrip("/")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _amount(match: re.Match[str]) -> str:
    number = match.group("a") or match.group("b") or ""
    return re.sub(r"[\s\u00a0.,]", "", number)
