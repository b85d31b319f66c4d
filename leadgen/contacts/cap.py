"""Cap on a company's contacts: keep the best CRAWL_MAX_CONTACTS_PER_COMPANY, count the rest (hostile pages)."""

from __future__ import annotations

from collections.abc import Sequence

from leadgen.contacts.extract import Contact
from leadgen.contacts.preference import parse_preference, rank_email


def cap_contacts(
    contacts: Sequence[Contact], limit: int, preference: str | None = None
) -> tuple[list[Contact], int]:
    """The best `limit` distinct contacts and how many were dropped.

    Distinct on (kind, lower(value)), the better quality kept. Best first: quality, then for emails the
    recipient preference rank (OUTREACH_RECIPIENT_PREFERENCE), then the crawler's order. Kept contacts keep
    the crawler's order.
    """
    unique: dict[tuple[str, str], tuple[int, Contact]] = {}
    for order, c in enumerate(contacts):
        key = (c.kind, c.value.lower())
        if key not in unique or c.quality > unique[key][1].quality:
            unique[key] = (unique[key][0] if key in unique else order, c)
    if len(unique) <= limit:
        return [c for _, c in sorted(unique.values(), key=lambda pair: pair[0])], 0
    items = parse_preference(preference)

    def rank(pair: tuple[int, Contact]) -> tuple[float, int, int]:
        order, c = pair
        pref = rank_email(c.value, items).rank if c.kind == "email" else 0
        return (-c.quality, pref, order)

    best = sorted(unique.values(), key=rank)[:limit]
    return [c for _, c in sorted(best, key=lambda pair: pair[0])], len(unique) - limit
