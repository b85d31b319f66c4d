"""Junk rules for extracted contacts: asset names, tracking addresses, placeholders, non-phone numbers."""

from __future__ import annotations

import re

# File extensions that show up as the "domain" of retina asset names (logo@2x.png, icon@3x.webp).
ASSET_SUFFIXES = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "tif", "tiff", "css", "js", "mjs",
        "map", "json", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "ogg", "pdf", "zip",
        "php", "html", "htm", "xml", "txt",
    }
)  # fmt: skip

# Error-reporting, analytics and site-builder infrastructure addresses (found in inline scripts and DSNs).
TRACKING_DOMAINS = frozenset(
    {
        "sentry.io", "ingest.sentry.io", "sentry-next.wixpress.com", "sentry.wixpress.com", "wixpress.com",
        "sentry.tilda.cc", "bugsnag.com", "rollbar.com", "raygun.io", "trackjs.com", "logrocket.com",
        "mixpanel.com", "hotjar.com", "segment.io", "intercom.io", "amplitude.com", "newrelic.com",
        "nr-data.net", "datadoghq.com", "sentry.ozon.ru", "errors.yandex.ru", "mc.yandex.ru",
        "sentry.skbkontur.ru", "users.noreply.github.com", "jivosite.com", "jivo.ru",
    }
)  # fmt: skip
TRACKING_LABELS = ("sentry", "bugsnag", "rollbar", "wixpress")

# Placeholders from templates and form hints (example.com, your@email, name@domain, test@test ...).
PLACEHOLDER_DOMAIN_LABELS = frozenset(
    {
        "example", "domain", "yourdomain", "your-domain", "yoursite", "your-site", "mysite", "mydomain",
        "site-name", "sitename", "company-name", "test", "email", "sample",
        "vashsait", "vash-sait", "sait", "site", "website", "yourcompany", "your-company", "mycompany", "companyname",
        "пример", "домен", "вашдомен", "ваш-домен", "мойдомен", "мой-домен", "сайт", "вашсайт", "ваш-сайт", "мойсайт",
        "названиекомпании", "вашакомпания", "ваша-компания",
    }
)  # fmt: skip
PLACEHOLDER_LOCALS = frozenset(
    {
        "your", "you", "yourname", "your.name", "your_name", "youremail", "your.email", "your_email",
        "yourmail", "name", "username", "user", "login", "email", "e-mail", "mail", "test", "example",
        "ivanov", "ivan", "ivanov.ivan", "ivan.ivanov", "vash", "vashe", "vasha", "vashemail", "vash.email",
        "vasha.pochta", "imya", "name.surname", "firstname.lastname", "john.doe", "johndoe", "xxx", "xxxx",
        "address", "адрес", "имя", "ваш", "почта", "иван", "иванов", "иван.иванов", "иванов.иван", "ваша.почта",
        "вашапочта", "ваш.email", "пример", "имя.фамилия", "user1", "username1",
    }
)  # fmt: skip
# Free mail hosts: the local part alone says whether a free-mail address is a placeholder.
FREE_MAIL_DOMAINS = frozenset(
    {
        "mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "yandex.ru", "ya.ru", "yandex.com",
        "narod.ru", "rambler.ru", "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com",
        "icloud.com", "me.com", "proton.me", "protonmail.com", "mail.com", "ukr.net", "tut.by", "qip.ru",
        "lenta.ru", "autorambler.ru", "myrambler.ru", "ro.ru", "yandex.by", "yandex.kz", "yandex.ua",
    }
)  # fmt: skip
ROBOT_LOCALS = frozenset(
    {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon", "postmaster", "bounce"}
)
# Code hosting in code samples and install snippets ("git@github.com:org/repo.git").
CODE_HOST_DOMAINS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "gitflic.ru", "gitverse.ru"})
HEX_LOCAL_RE = re.compile(r"^[0-9a-f]{16,}$")  # Sentry DSN keys and similar tokens


def _registrable_label(domain: str) -> str:
    parts = domain.split(".")
    return parts[-2] if len(parts) >= 2 else parts[0]


def email_junk_reason(local: str, domain: str) -> str | None:
    """Why a syntactically valid address is not a real contact, or None if it may be one."""
    tld = domain.rsplit(".", 1)[-1]
    if tld in ASSET_SUFFIXES:
        return "asset"
    if re.fullmatch(r"\d+(\.\d+)*x?", _registrable_label(domain)):
        return "asset"
    if domain in TRACKING_DOMAINS or any(domain.endswith("." + d) for d in TRACKING_DOMAINS):
        return "tracking"
    if any(label in domain for label in TRACKING_LABELS) or HEX_LOCAL_RE.match(local):
        return "tracking"
    label = _registrable_label(domain)
    if label in PLACEHOLDER_DOMAIN_LABELS or domain.startswith(("example.", "domain.")):
        return "placeholder"
    if local in PLACEHOLDER_LOCALS and (domain in FREE_MAIL_DOMAINS or label in ("mail", "company", "firma")):
        return "placeholder"
    if local in ROBOT_LOCALS:
        return "robot"
    if local == "git" or domain in CODE_HOST_DOMAINS:
        return "code"
    if re.fullmatch(r"x{3,}|(.)\1{4,}", local):
        return "placeholder"
    return None


# Labels before a digit run that say "this is not a phone" (Russian requisites and commerce).
NON_PHONE_LABEL_RE = re.compile(
    r"(?<!\w)(инн|огрн(?:ип)?|кпп|бик|окпо|оквэд|окато|октмо|окогу|окфс|окопф|р/\s?сч?|р\.\s?сч|рс|к/\s?сч?|к\.\s?сч|кс|расч[её]тный|"
    r"корр?\.?\s*сч|сч[её]т|сч\.|л/с|лиц\.?\s*сч|сертификат|лицензи|свидетельств|рег\.?\s*№|№|номер\s+заказа|"
    r"заказ|order|invoice|артикул|арт\.|sku|код\s+товара|индекс|index|почтовый|паспорт|snils|снилс|"
    r"inn|ogrn|kpp|bik|account|acc\.|iban|swift|дата|date|от)\s*[:.#№]?\s*$",
    re.I,
)
PHONE_LABEL_RE = re.compile(
    r"(?<!\w)(тел|телефон|phone|tel|моб|mobile|факс|fax|звоните|позвоните|whatsapp|viber|telegram|"
    r"горячая\s+линия|многоканальный|call|контакт|т\.|т:|ph\.)",
    re.I,
)
# Money and units right after a number: it is a price or a quantity, not a phone.
AFTER_NUMBER_NOT_PHONE_RE = re.compile(
    r"^\s*(₽|руб|р\.|рублей|rub|\$|€|usd|eur|тыс|млн|млрд|шт|кг|г\.|м2|м²|км|%|коп)", re.I
)
DATE_RE = re.compile(r"^(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2})")


def phone_context_rejects(before: str, after: str) -> bool:
    """True when the text around a digit run shows it is a requisite, a price, a date or an order number."""
    tail = before[-40:]
    last_phone = max((m.end() for m in PHONE_LABEL_RE.finditer(tail)), default=-1)
    non_phone = NON_PHONE_LABEL_RE.search(tail)
    if non_phone and non_phone.start() > last_phone:
        return True
    return bool(AFTER_NUMBER_NOT_PHONE_RE.match(after))


def has_phone_label(before: str) -> bool:
    """True when a phone word (тел., phone, факс ...) precedes the number closely, on the same line."""
    return bool(PHONE_LABEL_RE.search(before[-30:].rsplit("\n", 1)[-1]))


PLACEHOLDER_NATIONAL = frozenset({"1234567890", "0123456789", "9876543210", "1111111111"})


def phone_is_placeholder(e164: str) -> bool:
    """Form samples such as +7 (999) 999-99-99, +7 (000) 000-00-00, 8 (123) 456-78-90."""
    national = e164[-10:]
    subscriber = national[-7:]
    return len(set(national)) <= 2 or national in PLACEHOLDER_NATIONAL or subscriber in ("0000000", "9999999")
