"""Guardrails: tables of drafts that pass and fail, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgen.outreach.guardrails import check_draft, language_problem
from leadgen.outreach.template import EmailTemplate
from tests.outreach.factories import make_offer

OFFER = make_offer()
GOOD_BODY = (
    "Здравствуйте!\n\nМеня зовут Анна, я из компании ДентаПлан. Посмотрели сайт вашей клиники и думаем, "
    "что вам пригодится наша CRM: она напоминает пациентам о визитах, поэтому клиники теряют меньше "
    "записей.\n\nЕсли интересно, ответьте на это письмо — пришлю короткую демонстрацию.\n\nС уважением,\nАнна"
)


def problems(body: str = GOOD_BODY, subject: str = "CRM для вашей клиники", **kw: object) -> tuple[str, ...]:
    return check_draft(EmailTemplate(subject, body), OFFER, **kw).problems  # type: ignore[arg-type]


def test_good_draft_passes() -> None:
    assert problems() == ()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("Подробнее: https://evil.example.com/promo", "link not in the offer"),
        ("Сайт: www.cheap-crm.ru", "link not in the offer"),
        ("Загляните на cheap-crm.ru", "link not in the offer"),
        ("Пишите на sales@cheap-crm.ru", "email not in the offer"),
        ("Звоните: 8 (800) 555-35-35", "phone not in the offer"),
        ("Звоните: +7 912 000 11 22", "phone not in the offer"),
        ("Всего 1 990 руб. в месяц", "price not in the offer"),
        ("Цена — 15000₽", "price not in the offer"),
        ("Стоимость от $99", "price not in the offer"),
        ("Уважаемый {name}!", "placeholder left"),
        ("Компания [Company] выбирает нас", "placeholder left"),
        ("Для [Название компании] скидка", "placeholder left"),
        ("Привет, {{ first_name }}", "placeholder left"),
        ("Здравствуйте, <Имя>!", "placeholder left"),
        ("Здравствуйте, $name", "placeholder left"),
        ("Телефон: XXX", "placeholder left"),
    ],
)
def test_invented_facts_and_placeholders_fail(extra: str, expected: str) -> None:
    found = problems(GOOD_BODY + "\n" + extra)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    "extra",
    [
        "Наш сайт: https://dentaplan.example",
        "Наш сайт: dentaplan.example",
        "Пишите: anna@dentaplan.example",
        "Телефон: +7 (495) 123-45-67",
        "Телефон: 8 495 1234567",
        "Тариф — 4900 рублей в месяц",
        "Тариф — 4 900 ₽ в месяц",
    ],
)
def test_facts_from_the_offer_pass(extra: str) -> None:
    assert problems(GOOD_BODY + "\n" + extra) == ()


def test_recipient_domain_allowed_only_when_passed() -> None:
    body = GOOD_BODY + "\nВидели ваш сайт smile-dent.ru."
    assert problems(body) != ()
    assert problems(body, allowed_domains=frozenset({"smile-dent.ru"})) == ()


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("", GOOD_BODY, "subject is empty"),
        ("Т" * 121, GOOD_BODY, "subject is 121 characters"),
        ("Тема\nBcc: x@y.ru", GOOD_BODY, "subject has a line break"),
        ("Тема", "Коротко.", "body is 8 characters"),
        ("Тема", GOOD_BODY * 10, "body is"),
        (
            "CRM for your clinic",
            "Hello! " + "We help clinics keep their schedule full. " * 8,
            "language is not ru",
        ),
    ],
)
def test_length_and_language(subject: str, body: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(body, subject)), problems(body, subject)


def test_english_when_configured() -> None:
    body = "Hello! " + "We help dental clinics keep their schedule full with reminders. " * 5
    assert problems(body, "CRM for your clinic", language="en") == ()
    assert language_problem(GOOD_BODY, "en") is not None
    assert language_problem("что угодно", "de") is None  # no script check for other languages


# No "ф": "х.рф" would be a real domain name.
@given(st.text(alphabet="абвгдеёжзийклмнопрстухцчшщыэюя ,.!\n", min_size=250, max_size=1500))
def test_plain_russian_prose_never_flagged_for_facts(text: str) -> None:
    found = [p for p in problems(text) if not p.startswith(("body is", "language", "no text"))]
    assert found == []


@given(st.from_regex(r"https?://[a-z]{3,10}\.(ru|com|net)/[a-z]{0,8}", fullmatch=True))
def test_any_foreign_link_is_caught(url: str) -> None:
    assert any(p.startswith("link not in the offer") for p in problems(GOOD_BODY + " " + url))
