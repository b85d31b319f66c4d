"""Deterministic generated company sites for the site farm: pages and ground truth from a seeded RNG per domain."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from functools import lru_cache

# Layout/feature kinds and their weights: most sites are ordinary, a tail is hostile or broken.
KINDS: tuple[tuple[str, int], ...] = (
    ("footer", 14), ("table", 10), ("jsonld", 8), ("microdata", 7), ("obfuscated", 7), ("cfemail", 6),
    ("cp1251", 8), ("deep_link", 6), ("studio", 6), ("broken", 4), ("js_only", 3), ("redirect_chain", 4),
    ("redirect_loop", 2), ("slow", 1), ("huge", 2), ("non_html", 2), ("error404", 2), ("error500", 2),
    ("robots_contacts", 3), ("robots_all", 1), ("no_contacts", 2),
)  # fmt: skip
UNREACHABLE_KINDS = frozenset({"redirect_loop", "non_html", "error404", "error500", "robots_all", "slow"})
NAMES = ("Ромашка", "Вектор", "СтройМастер", "ТехноПарк", "Альфа-Логистик", "Северный Ветер", "Кристалл",
         "ПромСнаб", "Уютный Дом", "Гранит", "МедЛайн", "АвтоПрофи", "Светлый Путь", "Формула Чистоты",
         "Теплосервис", "Дом Мебели", "Океан", "Меридиан", "Эталон", "Сибирь-Трейд")  # fmt: skip
SLUGS = ("romashka", "vektor", "stroymaster", "tehnopark", "alfa-logistic", "severnyi-veter", "kristall",
         "promsnab", "uyutnyi-dom", "granit", "medline", "avtoprofi", "svetlyi-put", "formula-chistoty",
         "teploservis", "dom-mebeli", "okean", "meridian", "etalon", "sibir-trade")  # fmt: skip
CITIES = (("Москва", "495"), ("Москва", "499"), ("Санкт-Петербург", "812"), ("Екатеринбург", "343"),
          ("Новосибирск", "383"), ("Самара", "846"), ("Казань", "843"), ("Ростов-на-Дону", "863"),
          ("Краснодар", "861"), ("Нижний Новгород", "831"))  # fmt: skip
MOBILE_CODES = ("916", "903", "925", "985", "921", "911", "912", "950", "961", "999")
LOCALS = ("info", "sales", "office", "zakaz", "mail", "hello", "manager", "buh", "director", "opt")
STUDIO_DOMAINS = ("webstudio-pro.ru", "sitemakers.ru", "digital-kit.ru", "razrabotka-saitov.ru")
CONTACT_PATHS = ("/contacts", "/contacts/", "/kontakty", "/contact", "/company/contacts/", "/svyaz.html")
FREE_MAIL = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru")
# Mailboxes the farm's companies closed long ago but still show on their sites: the sandbox relay accepts mail
# for them and later returns a "550 5.1.1 User unknown" DSN (leadgen_sandbox.returns).
DEAD_LOCALS = frozenset({"buh", "director"})


def is_dead_mailbox(address: str, /) -> bool:
    """Does mail to `address` bounce in the sandbox (its local part is one of DEAD_LOCALS)?"""
    return address.strip().lower().rpartition("@")[0] in DEAD_LOCALS


@dataclass(frozen=True, slots=True)
class Site:
    """A generated company site: its contacts, the kind of layout, and the truth a crawler should find."""

    domain: str
    kind: str
    name: str
    city: str
    emails: tuple[str, ...]
    phones: tuple[tuple[str, str], ...]  # (display form, E.164)
    contact_path: str
    studio_email: str | None = None
    home_only: tuple[str, ...] = field(default_factory=tuple)  # emails shown on the home page

    def truth(self) -> dict[str, object]:
        """Ground truth: what a correct crawler extracts (respecting robots, JS, errors) and the outcome."""
        emails: list[str] = list(self.emails)
        phones = [e164 for _, e164 in self.phones]
        status = "enriched"
        if self.kind in UNREACHABLE_KINDS:
            emails, phones, status = [], [], "unreachable"
        elif self.kind in ("js_only", "no_contacts"):
            emails, phones, status = [], [], "no_contacts"
        elif self.kind == "robots_contacts":
            emails, phones = list(self.home_only), phones[:1]
        return {
            "domain": self.domain,
            "kind": self.kind,
            "status": status,
            "emails": sorted(emails),
            "phones": sorted(phones),
            "studio_emails": [self.studio_email] if self.studio_email and status == "enriched" else [],
            "contact_path": self.contact_path,
        }


def farm_domains(count: int, /, *, seed: int = 1) -> list[str]:
    """`count` distinct company domains (a few IDN .рф in punycode), deterministic for `seed`."""
    out = []
    for i in range(count):
        slug = SLUGS[(i * 7 + seed) % len(SLUGS)]
        if i % 50 == 49:
            name = NAMES[(i * 7 + seed) % len(NAMES)].lower().replace(" ", "-")
            out.append(f"{name}-{i}.рф".encode("idna").decode("ascii"))
        else:
            out.append(f"{slug}-{i}-s{seed}.ru")
    return out


def _rng(domain: str, seed: int) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{domain}".encode()).digest()[:8], "big"))


def _phone(rng: random.Random, area: str) -> tuple[str, str]:
    code = rng.choice((area, area, rng.choice(MOBILE_CODES), "800"))
    sub = f"{rng.randint(2, 9)}{rng.randint(0, 99):02d}{rng.randint(0, 9999):04d}"
    a, b, c = sub[:3], sub[3:5], sub[5:]
    style = rng.randint(0, 5)
    shown = (
        f"+7 ({code}) {a}-{b}-{c}", f"8 ({code}) {a}-{b}-{c}", f"8 {code} {a} {b} {c}",
        f"+7 {code} {sub}", f"8({code}){a}-{b}-{c}", f"+7-{code}-{a}-{b}-{c}",
    )[style]  # fmt: skip
    return shown, f"+7{code}{sub}"


@lru_cache(maxsize=8192)
def site_for(domain: str, /, *, seed: int = 1) -> Site:
    """The site of `domain` (same input, same site)."""
    domain = domain.lower().rstrip(".")
    rng = _rng(domain, seed)
    kinds, weights = zip(*KINDS, strict=True)
    kind = rng.choices(kinds, weights=weights)[0]
    name = rng.choice(NAMES)
    city, area = rng.choice(CITIES)
    shown_domain = domain.encode("ascii").decode("idna") if "xn--" in domain else domain
    bare = shown_domain.removeprefix("www.")
    locals_ = rng.sample(LOCALS, rng.randint(1, 3))
    emails = [f"{local}@{bare}" for local in locals_]
    if rng.random() < 0.2:
        emails.append(
            f"{bare.split('.')[0].replace('-', '')[:20]}{rng.randint(1, 99)}@{rng.choice(FREE_MAIL)}"
        )
    phones = [_phone(rng, area) for _ in range(rng.randint(1, 3))]
    if kind == "no_contacts":
        emails, phones = [], []
    studio = (
        f"{rng.choice(('studio', 'hello', 'info'))}@{rng.choice(STUDIO_DOMAINS)}"
        if kind == "studio"
        else None
    )
    path = rng.choice(CONTACT_PATHS) if kind != "deep_link" else "/company/o-nas/svyaz-s-nami.html"
    return Site(domain, kind, name, city, tuple(emails), tuple(phones), path, studio, tuple(emails[:1]))


def truth_json(domain: str, /, *, seed: int = 1) -> bytes:
    return json.dumps(site_for(domain, seed=seed).truth(), ensure_ascii=False, indent=1).encode()
