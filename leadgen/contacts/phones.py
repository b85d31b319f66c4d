"""Pure phone helpers: find Russian and international numbers in text, parse tel: links, format E.164."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

import phonenumbers

from leadgen.contacts.junk import DATE_RE, has_phone_label, phone_context_rejects, phone_is_placeholder

DEFAULT_REGION = "RU"
# A run of digits with the separators people use: +7 (495) 123-45-67, 8 800 555 35 35, 8(812)123-45-67.
PHONE_RUN_RE = re.compile(
    r"[+(\d][\d \-().\u2010-\u2015\u2212\u00a0]{5,40}\d(?![0-9a-z])",
    re.I,
)
# An extension right after a number: "доб. 123", "(доб. 12)", "вн. 45", "ext. 7", "x 12".
EXTENSION_RE = re.compile(
    r"^\s*[,;]?\s*\(?\s*(?:доб(?:авочный)?|вн(?:утр(?:енний)?)?|ext(?:ension)?|x)\s*\.?\s*[:#]?\s*(\d{1,6})\)?",
    re.I,
)
EXT_SPLIT_RE = re.compile(r"[,;]?\s*\(?\s*(?:доб|вн|ext|x|#)", re.I)
# A line holding a phone word: the only place the (slower) PhoneNumberMatcher is asked to look.
LINE_LABEL_RE = re.compile(r"(?<!\w)(?:тел|phone|моб|факс|fax|whatsapp|звоните|call\b|горячая)", re.I)
TOKEN_SPLIT_RE = re.compile(r"[ \u00a0]+")
SEPARATOR_RE = re.compile(r"[\s\-().\u2010-\u2015\u2212]")


@dataclass(frozen=True, slots=True)
class PhoneMatch:
    """A number found in text: E.164 value, optional extension, where it sits, and whether it looks strong."""

    value: str
    extension: str | None
    start: int
    end: int
    strong: bool


@lru_cache(maxsize=65536)
def parse_phone(raw: str, /, *, region: str = DEFAULT_REGION) -> tuple[str, str | None] | None:
    """(E.164, extension) of a valid number, or None; numbers without `+` are read in `region`."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phone_is_placeholder(e164):
        return None
    return e164, number.extension or None


def phone_from_tel(href: str, /, *, region: str = DEFAULT_REGION) -> tuple[str, str | None] | None:
    """Number of a `tel:`/`callto:` link (percent-decoded; `;ext=` and `,` extensions kept apart)."""
    body = unquote(href.strip())
    body = re.sub(r"^(?:tel|callto|phone|sms):/{0,2}", "", body, flags=re.I)
    body, _, params = body.partition(";")
    ext_match = re.search(r"ext=(\d{1,6})", params, re.I)
    main, _, comma_ext = body.partition(",")
    digits = re.sub(r"\D", "", main)
    if len(digits) < 10 or len(digits) > 15:
        return None
    parsed = parse_phone(main.strip(), region=region)
    if parsed is None:
        return None
    ext = ext_match.group(1) if ext_match else (re.sub(r"\D", "", comma_ext) or None)
    return parsed[0], ext or parsed[1]


def _accept(segment: str, before: str, after: str, region: str) -> tuple[str, bool] | None:
    digits = re.sub(r"\D", "", segment)
    if not 10 <= len(digits) <= 13:
        return None
    plus = segment.lstrip().startswith("+")
    separated = bool(SEPARATOR_RE.search(segment.strip()))
    labelled = has_phone_label(before)
    if not plus and not separated:
        # A bare digit run is a phone only as 8/7 + 10 digits right after a phone word (tel. 84951234567);
        # INN (10/12), OGRN (13/15), KPP/BIK (9) and accounts (20) all fail this rule.
        if not (len(digits) == 11 and digits[0] in "78" and labelled):
            return None
    if not plus and len(digits) > 11:
        return None
    if phone_context_rejects(before, after):
        return None
    if DATE_RE.match(segment.strip().lstrip("(")):
        return None
    parsed = parse_phone(segment.strip(), region=region)
    if parsed is None:
        return None
    strong = plus or labelled or (len(digits) == 11 and digits[0] in "78" and separated)
    return parsed[0], strong


def find_phones(text: str, /, *, region: str = DEFAULT_REGION) -> list[PhoneMatch]:
    """Phone numbers written in `text`, in order; several numbers on one line are split apart.

    The digit-run scanner (`find_phones_regex`) finds them; a line with a phone word and ten digits or more
    where it found nothing is handed to libphonenumber's PhoneNumberMatcher (`find_phones_matcher`), which is
    ~6x slower per page (docs/contacts.md has the comparison on the fixture corpus).
    """
    found = find_phones_regex(text, region=region)
    extra: list[PhoneMatch] = []
    line_end = -1
    for label in LINE_LABEL_RE.finditer(text):
        if label.start() < line_end:
            continue  # this line was looked at already
        start = text.rfind("\n", 0, label.start()) + 1
        line_end = text.find("\n", label.end())
        line_end = len(text) if line_end == -1 else line_end
        line = text[start:line_end]
        if any(p.start < line_end and p.end > start for p in found) or sum(map(str.isdigit, line)) < 10:
            continue
        seen = {p.value for p in found} | {p.value for p in extra}
        for p in find_phones_matcher(line, region=region):
            if p.value not in seen:
                extra.append(PhoneMatch(p.value, p.extension, start + p.start, start + p.end, p.strong))
    return sorted(found + extra, key=lambda p: p.start) if extra else found


def find_phones_regex(text: str, /, *, region: str = DEFAULT_REGION) -> list[PhoneMatch]:
    """Phone numbers found by scanning digit runs token by token."""
    found: list[PhoneMatch] = []
    for match in PHONE_RUN_RE.finditer(text):
        base = match.start()
        if base and (text[base - 1].isalnum() or text[base - 1] in "+-/=_"):
            continue  # glued to a word or a code: ОГРН1027700132195, id=79161234567
        run = match.group()
        if run[0] == "(" and not run[1:2].isdigit():
            continue
        if phone_context_rejects(text[max(0, base - 60) : base], ""):
            continue  # the whole run is a requisite or an order number (ИНН, р/с, Заказ № ...)
        tokens = [(m.start(), m.end()) for m in re.finditer(r"[^ \u00a0]+", run)]
        i = 0
        while i < len(tokens):
            accepted = False
            digit_count = 0
            for j in range(i, min(len(tokens), i + 8)):
                digit_count += sum(ch.isdigit() for ch in run[tokens[j][0] : tokens[j][1]])
                if digit_count > 13:
                    break
                if digit_count < 10:
                    continue
                start, end = base + tokens[i][0], base + tokens[j][1]
                segment = text[start:end]
                before = text[max(0, start - 60) : start]
                after = text[end : end + 40]
                result = _accept(segment, before, after, region)
                if result is None:
                    continue
                value, strong = result
                ext_match = EXTENSION_RE.match(after)
                extension = ext_match.group(1) if ext_match else None
                if ext_match:
                    end += ext_match.end()
                found.append(PhoneMatch(value, extension, start, end, strong))
                i = j + 1
                accepted = True
                break
            if not accepted:
                i += 1
    return found


def find_phones_matcher(text: str, /, *, region: str = DEFAULT_REGION) -> list[PhoneMatch]:
    """Phone numbers in `text` found by libphonenumber's PhoneNumberMatcher (leniency VALID), with the same
    rejections as `find_phones`: requisites, prices, dates, placeholders, bare digit runs without a phone word."""
    found: list[PhoneMatch] = []
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        start, end = match.start, match.end
        if start and (text[start - 1].isalnum() or text[start - 1] in "+-/=_"):
            continue
        raw = match.raw_string
        number = match.number
        main = raw
        ext_at = EXT_SPLIT_RE.search(raw)
        if ext_at:
            main = raw[: ext_at.start()]
        result = _accept(main.strip(), text[max(0, start - 60) : start], text[end : end + 40], region)
        if result is None:
            continue
        value, strong = result
        extension = number.extension or None
        after = EXTENSION_RE.match(text, end) if extension is None else None
        if after:
            extension = after.group(1)
            end = after.end()
        found.append(PhoneMatch(value, extension, start, end, strong))
    return found
