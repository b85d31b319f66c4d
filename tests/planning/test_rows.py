"""Row validation: required niche, region resolution, batch tags, operator injection; reasons are reported."""

from __future__ import annotations

import pytest

from leadgen.planning import NicheRow, RowError, validate_row


@pytest.mark.parametrize(
    ("raw", "region", "city"),
    [
        ({"niche": "Стоматология", "city": "Москва"}, "213", "Москва"),
        ({"niche": "стоматология", "city": "спб", "country": "Россия"}, "2", "Санкт-Петербург"),
        ({"niche": "Клининг", "city": "", "country": ""}, "225", None),
        ({"niche": "Клининг", "country": "Беларусь"}, "149", None),
        ({"niche": "Клининг", "city": "Татарстан"}, "11119", "Республика Татарстан"),
        ({"niche": "Клининг", "city": "Урюпинск", "lr": "10986"}, "10986", "Урюпинск"),
        ({"niche": "  Ремонт   квартир ", "city": "Казань"}, "43", "Казань"),
    ],
)
def test_valid_rows(raw: dict[str, str], region: str, city: str | None) -> None:
    row = validate_row(raw, row_number=2)
    assert isinstance(row, NicheRow), row
    assert row.region_code == region
    assert row.city == city
    assert "  " not in row.niche


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"niche": "", "city": "Москва"}, "niche is empty"),
        ({"niche": "   ", "city": "Москва"}, "niche is empty"),
        ({"niche": "12345", "city": "Москва"}, "niche has no letters"),
        ({"niche": "x" * 101}, "longer than 100"),
        ({"niche": "окна -пвх"}, "search operators"),
        ({"niche": "окна site:avito.ru"}, "search operators"),
        ({"niche": 'окна "пвх"'}, "search operators"),
        ({"niche": "окна | двери"}, "search operators"),
        ({"niche": "окна", "city": "Готэм"}, "unknown city 'Готэм'"),
        ({"niche": "окна", "country": "Атлантида"}, "unknown country"),
        ({"niche": "окна", "city": "Москва", "country": "Казахстан"}, "not in Казахстан"),
        ({"niche": "окна", "lr": "двести"}, "numeric Yandex region id"),
        ({"niche": "окна", "batch_tag": "ноябрь 1"}, "batch_tag"),
        ({"niche": "", "city": "Готэм"}, "niche is empty; unknown city"),
    ],
)
def test_invalid_rows_carry_reasons(raw: dict[str, str], reason: str) -> None:
    row = validate_row(raw, row_number=5)
    assert isinstance(row, RowError)
    assert row.row_number == 5
    assert reason in row.reason


def test_error_keeps_the_raw_cells_and_batch_tag() -> None:
    row = validate_row({"niche": "", "city": "Москва", "batch_tag": "b-1"}, row_number=9)
    assert isinstance(row, RowError)
    assert row.batch_tag == "b-1"
    assert ("city", "Москва") in row.raw


def test_extras_are_kept_sorted() -> None:
    row = validate_row({"niche": "окна"}, row_number=2, extras={"owner": "Аня", "note": "", "budget": "10"})
    assert isinstance(row, NicheRow)
    assert row.extras == (("budget", "10"), ("owner", "Аня"))


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

cells = st.text(max_size=120)


@given(niche=cells, city=cells, country=cells, batch_tag=cells, lr=cells)
def test_any_cells_give_a_row_or_a_reason(
    niche: str, city: str, country: str, batch_tag: str, lr: str
) -> None:
    row = validate_row(
        {"niche": niche, "city": city, "country": country, "batch_tag": batch_tag, "lr": lr}, row_number=7
    )
    assert isinstance(row, NicheRow | RowError)
    if isinstance(row, RowError):
        assert row.reason and row.row_number == 7
    else:
        assert row.niche and row.region_code.isdigit()
