"""Which of a company's addresses the drafter writes to, and the reason it records."""

from __future__ import annotations

from leadgen.db.models import Contact, ContactKind
from leadgen.outreach.drafting import NO_USABLE, choose_recipient, pick_recipient


def contact(cid: int, value: str, quality: float = 0.8, *, primary: bool = False, **meta: object) -> Contact:
    kind = ContactKind.EMAIL if "@" in value else ContactKind.PHONE
    return Contact(id=cid, kind=kind, value=value, quality_score=quality, is_primary=primary, meta=dict(meta))


def test_buyer_mailboxes_beat_accounting_hr_support_and_abuse() -> None:
    contacts = [
        contact(1, "buh@okna.ru", 1.0, primary=True),
        contact(2, "hr@okna.ru", 1.0),
        contact(3, "support@okna.ru", 0.95),
        contact(4, "abuse@okna.ru", 1.0),
        contact(5, "opt@okna.ru", 0.9),
        contact(6, "Zakaz@Okna.ru", 0.7),
        contact(7, "+74951234567", 0.9),
    ]
    choice = choose_recipient(contacts)
    assert not isinstance(choice, str)
    assert (choice[0].id, choice[1], choice[2]) == (
        6,
        "zakaz@okna.ru",
        "preferred: sales: zakaz@ (rank 2 of 11) among 5 addresses",  # abuse@ is never a candidate
    )
    assert pick_recipient(contacts) == (contacts[5], "zakaz@okna.ru")


def test_within_a_rank_primary_then_quality_decide() -> None:
    contacts = [contact(1, "info@okna.ru", 0.8), contact(2, "mail@okna.ru", 0.95), contact(3, "post@okna.ru")]
    assert choose_recipient(contacts)[1] == "mail@okna.ru"  # type: ignore[index]
    contacts[2].is_primary = True
    assert choose_recipient(contacts)[1] == "post@okna.ru"  # type: ignore[index]


def test_configured_order_and_web_studio_and_unusable() -> None:
    contacts = [
        contact(1, "director@okna.ru"),
        contact(2, "kadry@okna.ru"),
        contact(3, "hello@pixel.ru", 1.0, web_studio=True),
    ]
    assert choose_recipient(contacts, preference="hr,director")[1] == "kadry@okna.ru"  # type: ignore[index]
    assert choose_recipient([contacts[2]]) == "third-party address: web studio credit on the site"
    assert choose_recipient([contact(1, "noreply@okna.ru"), contact(2, "not an address")]) == NO_USABLE


def test_idn_addresses_are_ranked_by_their_unicode_local_part() -> None:
    contacts = [contact(1, "бухгалтерия@окна.рф", 1.0), contact(2, "продажи@окна.рф", 0.8)]
    choice = choose_recipient(contacts)
    assert not isinstance(choice, str)
    assert (
        choice[0].id == 2 and choice[1] == "продажи@окна.рф"
    )  # the canonical form; SMTP spells it in punycode
    assert choice[2] == "preferred: sales: продажи@ (rank 2 of 11) among 2 addresses"
