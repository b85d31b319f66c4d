"""Query generation: seed rules, Yandex operator syntax, limits, determinism and the query hash."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leadgen.data import MINUS_DOMAINS
from leadgen.planning import NicheRow, QueryOptions, generate_queries, query_hash
from leadgen.planning.queries import MAX_QUERY_CHARS, MAX_QUERY_WORDS, split_operators
from leadgen.settings import Settings


def _row(niche: str = "Стоматология", city: str | None = "Казань", region: str = "43") -> NicheRow:
    return NicheRow(2, niche, city, None, "b1", region, city or "Россия", True)


def _options(**kw: object) -> QueryOptions:
    return QueryOptions.from_settings(Settings(_env_file=None, **kw))  # type: ignore[call-arg]


def test_plain_query_then_triggers_in_order() -> None:
    queries = generate_queries(_row(), _options(planning_triggers="контакты,цены,email"))
    words = [split_operators(q.query_text)[0] for q in queries]
    assert words == [
        "стоматология Казань",
        "стоматология Казань контакты",
        "стоматология Казань цены",
        "стоматология Казань email",
    ]
    assert [q.trigger for q in queries] == [None, "контакты", "цены", "email"]
    assert [q.rank for q in queries] == [1, 2, 3, 4]


def test_at_most_max_queries_per_niche() -> None:
    triggers = ",".join(f"слово{i}" for i in range(12))
    assert len(generate_queries(_row(), _options(planning_triggers=triggers))) == 6
    assert (
        len(generate_queries(_row(), _options(planning_triggers=triggers, planning_max_queries_per_niche=3)))
        == 3
    )


def test_trigger_already_in_niche_and_duplicate_triggers_are_skipped() -> None:
    queries = generate_queries(_row("Цены на окна"), _options(planning_triggers="цены,Контакты,контакты"))
    assert [q.trigger for q in queries] == [None, "Контакты"]


def test_operators_follow_yandex_syntax() -> None:
    q = generate_queries(_row(), _options(planning_minus_domains="https://www.Example.ru/path,flamp.ru"))[0]
    _words, ops = split_operators(q.query_text)
    tokens = ops.split()
    assert tokens[0] == "-site:example.ru"  # configured extras first, cleaned
    assert tokens.count("-site:flamp.ru") == 1  # deduplicated against the shipped list
    assert {f"-site:{d}" for d in MINUS_DOMAINS} <= set(tokens) or q.minus_domains < len(MINUS_DOMAINS) + 1
    assert [t for t in tokens if t.startswith("-mime:")] == [
        "-mime:pdf",
        "-mime:doc",
        "-mime:xls",
        "-mime:ppt",
        "-mime:rtf",
    ]
    assert tokens[-1] == "lang:ru"
    assert not any(t.startswith("~~") for t in tokens)


def test_no_files_and_language_switches() -> None:
    q = generate_queries(_row(), _options(defaults_min_no_files=False, planning_language=""))[0]
    assert "mime:" not in q.query_text and "lang:" not in q.query_text
    assert not q.no_files


def test_minus_sites_are_dropped_to_fit_400_chars_and_40_words() -> None:
    many = ",".join(f"very-long-directory-name-{i}.example.ru" for i in range(40))
    for q in generate_queries(_row(), _options(planning_minus_domains=many)):
        assert len(q.query_text) <= MAX_QUERY_CHARS
        assert len(q.query_text.split()) <= MAX_QUERY_WORDS
        assert q.query_text.endswith("lang:ru")
        assert q.minus_domains < 40


def test_no_city_uses_country_only_when_given() -> None:
    row = NicheRow(2, "Клининг", None, None, None, "225", "Россия", True)
    assert split_operators(generate_queries(row, _options())[0].query_text)[0] == "клининг"
    row = NicheRow(2, "Клининг", None, "Беларусь", None, "149", "Беларусь", True)
    assert split_operators(generate_queries(row, _options())[0].query_text)[0] == "клининг Беларусь"


def test_query_hash_is_sha1_of_text_and_region() -> None:
    assert (
        query_hash("окна Москва", "213")
        == hashlib.sha1(
            b"\xd0\xbe\xd0\xba\xd0\xbd\xd0\xb0 \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0|213"
        ).hexdigest()
    )
    q = generate_queries(_row(), _options())[0]
    assert q.query_hash == query_hash(q.query_text, "43")
    assert query_hash("a", "1") != query_hash("a", "2")


niches = st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщыэюяabcdefxyz ", min_size=2, max_size=100).filter(
    lambda s: any(c.isalpha() for c in s)
)


@hsettings(max_examples=60, deadline=None)
@given(niche=niches, triggers=st.lists(st.text(alphabet="абвгдежз ", min_size=1, max_size=20), max_size=10))
def test_generation_is_deterministic_and_within_limits(niche: str, triggers: list[str]) -> None:
    options = QueryOptions(triggers=tuple(triggers), minus_domains=tuple(sorted(MINUS_DOMAINS)))
    row = _row(" ".join(niche.split()) or "ab")
    first = generate_queries(row, options)
    assert first == generate_queries(row, options)
    assert 1 <= len(first) <= 6
    assert len({q.query_hash for q in first}) == len(first)
    for q in first:
        assert len(q.query_text) <= MAX_QUERY_CHARS
        assert len(q.query_text.split()) <= MAX_QUERY_WORDS


@pytest.mark.parametrize("max_queries", [1, 2, 6])
def test_max_queries_setting_is_bounded(max_queries: int) -> None:
    opts = _options(planning_max_queries_per_niche=max_queries)
    assert len(generate_queries(_row(), opts)) == max_queries
