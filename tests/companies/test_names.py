"""Company-name normalisation used by the name-only dedupe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgen.companies import name_similarity, normalise_name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ООО «Ромашка-Плюс»", "ромашка плюс"),
        ('Общество с ограниченной ответственностью "Ромашка Плюс"', "ромашка плюс"),
        ("ООО 'Ромашка плюс'", "ромашка плюс"),
        ("АО “Ёлка”", "елка"),
        ("ПАО Сбербанк", "сбербанк"),
        ("Публичное акционерное общество «Сбербанк»", "сбербанк"),
        ("ИП Иванов Иван Иванович", "иванов иван иванович"),
        ("Индивидуальный предприниматель Иванов И.И.", "иванов и и"),
        ("ЗАО „СтройМонтаж“", "строймонтаж"),
        ("Okna Group LLC", "okna group"),
        ("  Окна   Плюс  ", "окна плюс"),
        ("Гао-Строй", "гао строй"),  # "ао" inside a word is not a legal form
        ("Ипподром", "ипподром"),
        ("ООО", None),
        ("«»", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_name(given: str | None, expected: str | None) -> None:
    assert normalise_name(given) == expected


def test_similarity() -> None:
    assert name_similarity("ромашка плюс", "ромашка плюс") == 100
    assert name_similarity("ромашка плюс", "ромашка-плюс".replace("-", " ")) == 100
    assert name_similarity("ромашка плюс", "ромашка плю") > 90
    assert name_similarity("ромашка плюс", "лютик минус") < 50


@given(st.text(max_size=60))
def test_normalise_is_idempotent(name: str) -> None:
    once = normalise_name(name)
    assert once is None or normalise_name(once) == once
