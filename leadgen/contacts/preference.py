"""Recipient preference: rank a company's addresses by mailbox kind (director, sales ... accounting, abuse).

`OUTREACH_RECIPIENT_PREFERENCE` is an ordered, comma-separated list; each item is a group name below, `other`
(an address no item matches, e.g. a person's name) or a glob on the local part (`zakaz*`, `*.sales`). An
address takes the rank of the first item it matches; the best rank wins, then contact quality.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TypeVar

DEFAULT_PREFERENCE = "director,sales,info,office,hello,other,support,wholesale,hr,accounting,robot"
OTHER = "other"

# Local parts of each group: whole local part, or a token of it split on . _ - + and digits ("sales.msk",
# "buh2", "otdel-prodazh"). Russian words both transliterated and in Cyrillic (RFC 6531 mailboxes).
GROUPS: dict[str, frozenset[str]] = {
    "director": frozenset(
        """director dir direktor gendir gendirector gd ceo head boss chief rukovoditel rukovodstvo glava
        priemnaya priem reception secretary sekretar president owner founder general generalnyy
        директор гендиректор руководитель руководство приемная приёмная секретарь""".split()
    ),
    "sales": frozenset(
        """sales sale sell prodazhi prodazha prodaji prodazh zakaz zakazy order orders shop commerce
        kommerc kommercheskiy sbyt manager managers menedzher client clients klient b2b deal deals
        tender torg market
        продажи продажа продаж заказ заказы сбыт менеджер клиент коммерческий""".split()
    ),
    "info": frozenset("info inform information mail post pochta contact contacts kontakt инфо почта".split()),
    "office": frozenset("office ofis adm admin administrator administration офис администратор".split()),
    "hello": frozenset("hello hi welcome привет".split()),
    "support": frozenset(
        """support help helpdesk service servis tech techsupport podderzhka feedback care remont garant
        warranty поддержка сервис помощь""".split()
    ),
    "wholesale": frozenset(
        "opt optom optovik wholesale dealer dealers diler dileram опт оптом дилер".split()
    ),
    "hr": frozenset(
        """hr kadry kadr job jobs resume cv career careers vacancy vacancies rabota personal personnel
        recruit recruiting кадры резюме вакансии работа персонал""".split()
    ),
    "accounting": frozenset(
        """buh buhgalter buhgalteriya bux accounting accountant accounts finance fin billing invoice
        invoices schet glavbuh бухгалтер бухгалтерия финансы""".split()
    ),
    "robot": frozenset(
        """abuse noreply no-reply no_reply donotreply do-not-reply mailer-daemon postmaster bounce bounces
        webmaster hostmaster unsubscribe""".split()
    ),
}
TOKEN_SPLIT_RE = re.compile(r"[._+\-\d]+")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ranked:
    """An address's place in the preference: `rank` (1 = best), the item it matched, and the list length."""

    email: str
    rank: int
    item: str
    of: int

    def reason(self, *, chosen_from: int) -> str:
        """Why this address was chosen, for contact meta and reports."""
        local = self.email.rpartition("@")[0]
        what = f"{self.item}: {local}@" if self.item != local else f"{local}@"
        alone = " (only address)" if chosen_from == 1 else f" among {chosen_from} addresses"
        return f"preferred: {what} (rank {self.rank} of {self.of}){alone}"


@lru_cache(maxsize=64)
def parse_preference(value: str | None) -> tuple[str, ...]:
    """Items of a preference string, lower case; an empty value means the default."""
    items = tuple(part.strip().lower() for part in (value or "").split(",") if part.strip())
    return items or parse_preference(DEFAULT_PREFERENCE)


def group_of(local: str) -> str | None:
    """The mailbox group of a local part ("sales.msk" → sales), or None."""
    local = local.lower().split("+", 1)[0]
    for name, words in GROUPS.items():
        if local in words:
            return name
    tokens = [t for t in TOKEN_SPLIT_RE.split(local) if t]
    for name, words in GROUPS.items():
        if any(t in words for t in tokens):
            return name
    return None


def rank_email(email: str, preference: str | Sequence[str] | None = None) -> Ranked:
    """Rank of one address under `preference` (a string or already-split items)."""
    items = (
        parse_preference(preference)
        if preference is None or isinstance(preference, str)
        else tuple(preference)
    )
    local = email.rpartition("@")[0].lower()
    group = group_of(local)
    other_at: int | None = None
    for index, item in enumerate(items, start=1):
        if item == OTHER:
            other_at = index
            if group is None:
                return Ranked(email, index, OTHER, len(items))
        elif item in GROUPS:
            if group == item:
                return Ranked(email, index, item, len(items))
        elif fnmatchcase(local, item):
            return Ranked(email, index, item, len(items))
    return Ranked(email, other_at or len(items) + 1, OTHER, len(items))


def best(items: Iterable[T], email_of: object, preference: str | None = None) -> tuple[T, Ranked] | None:
    """The first item of the best rank; `items` come in the caller's order of quality (stable)."""
    ranked = [(item, rank_email(email_of(item), preference)) for item in items]  # type: ignore[operator]
    if not ranked:
        return None
    return min(ranked, key=lambda pair: pair[1].rank)
