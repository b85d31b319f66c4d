"""Recipient preference: mailbox groups, globs, `other`, the configured order, and the reason text."""

from __future__ import annotations

import pytest

from leadgen.contacts.preference import DEFAULT_PREFERENCE, best, group_of, parse_preference, rank_email
from leadgen.settings import Settings


@pytest.mark.parametrize(
    ("local", "group"),
    [
        ("director", "director"),
        ("gendir", "director"),
        ("ceo", "director"),
        ("priemnaya", "director"),
        ("директор", "director"),
        ("sales", "sales"),
        ("sales.msk", "sales"),
        ("otdel-prodazh", "sales"),
        ("zakaz2", "sales"),
        ("продажи", "sales"),
        ("info", "info"),
        ("почта", "info"),
        ("office", "office"),
        ("hello", "hello"),
        ("support", "support"),
        ("opt", "wholesale"),
        ("optom", "wholesale"),
        ("hr", "hr"),
        ("kadry", "hr"),
        ("resume", "hr"),
        ("buh", "accounting"),
        ("buhgalteriya", "accounting"),
        ("бухгалтерия", "accounting"),
        ("abuse", "robot"),
        ("noreply", "robot"),
        ("ivan.petrov", None),
        ("a.smirnova", None),
        ("optika", None),  # a word that merely starts like a group word is not one
    ],
)
def test_groups(local: str, group: str | None) -> None:
    assert group_of(local) == group


def test_default_order_puts_buyers_first() -> None:
    emails = [
        "buh@firma.ru",
        "hr@firma.ru",
        "support@firma.ru",
        "opt@firma.ru",
        "abuse@firma.ru",
        "ivan.petrov@firma.ru",
        "office@firma.ru",
        "info@firma.ru",
        "sales@firma.ru",
        "director@firma.ru",
        "hello@firma.ru",
    ]
    ordered = sorted(emails, key=lambda e: rank_email(e).rank)
    assert ordered == [
        "director@firma.ru",
        "sales@firma.ru",
        "info@firma.ru",
        "office@firma.ru",
        "hello@firma.ru",
        "ivan.petrov@firma.ru",
        "support@firma.ru",
        "opt@firma.ru",
        "hr@firma.ru",
        "buh@firma.ru",
        "abuse@firma.ru",
    ]


def test_configured_order_with_globs_and_other() -> None:
    preference = "zakaz*, info, other"
    assert rank_email("zakaz.spb@firma.ru", preference).rank == 1
    assert rank_email("sales@firma.ru", preference).item == "other"  # sales is not listed: it is "other"
    assert rank_email("sales@firma.ru", preference).rank == 3
    no_other = "sales,info"
    assert rank_email("buh@firma.ru", no_other).rank == 3  # unlisted and no `other`: after everything


def test_best_keeps_the_callers_order_within_a_rank_and_explains() -> None:
    contacts = ["buh@firma.ru", "info@firma.ru", "office@firma.ru", "zakaz@firma.ru", "sales@firma.ru"]
    picked = best(contacts, lambda e: e)
    assert picked is not None
    email, ranked = picked
    assert email == "zakaz@firma.ru"  # first of the sales group in the given (quality) order
    assert ranked.reason(chosen_from=5) == "preferred: sales: zakaz@ (rank 2 of 11) among 5 addresses"
    only = best(["buh@firma.ru"], lambda e: e)
    assert only is not None and only[1].reason(chosen_from=1) == (
        "preferred: accounting: buh@ (rank 10 of 11) (only address)"
    )
    assert best([], lambda e: e) is None


def test_setting_default_and_empty_value() -> None:
    assert Settings(_env_file=None).outreach_recipient_preference == DEFAULT_PREFERENCE  # type: ignore[call-arg]
    assert parse_preference("") == parse_preference(DEFAULT_PREFERENCE)
    assert parse_preference(" Sales , INFO ") == ("sales", "info")
