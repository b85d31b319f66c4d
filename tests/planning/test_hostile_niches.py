"""Careless and hostile niche files (issue 22): encodings detected or refused, malformed records as row errors,
duplicate columns refused, `lr` checked against the region dictionary, chunked planning equal to one pass."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from leadgen.errors import NicheInputError
from leadgen.planning import NicheRow, RowError, plan, read_niches
from leadgen.planning.csv_input import detect_and_decode, parse_table
from leadgen.planning.plan import plan_batch
from leadgen.planning.rows import validate_row
from leadgen.settings import Settings

TEXT = "ниша;город;тег\nСтоматология;Москва;b1\nОкна ПВХ;Нижний Новгород;b1\nклининг;Казань;b1\n"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),  # Excel "Unicode text" without its mark
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("cp1251"), "cp1251"),
        (TEXT.encode("koi8_r"), "koi8_r"),
        # ASCII header: the body decides (charset-normalizer)
        (TEXT.replace("ниша;город;тег", "niche;city;batch_tag").encode("koi8_r"), "koi8_r"),
        (TEXT.replace("ниша;город;тег", "niche;city;batch_tag").encode("cp1251"), "cp1251"),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf16le-nobom", "utf32le-bom", "utf8-bom", "utf8", "cp1251", "koi8r",
         "koi8r-ascii-header", "cp1251-ascii-header"],
)  # fmt: skip
def test_encodings_are_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    text, found = detect_and_decode(data)
    assert found == encoding
    assert "Нижний Новгород" in text
    path = tmp_path / "n.csv"
    path.write_bytes(data)
    rows = read_niches(_settings(), str(path))
    assert [type(r) for r in rows] == [NicheRow, NicheRow, NicheRow], rows
    assert [r.region_code for r in rows if isinstance(r, NicheRow)] == ["213", "47", "43"]


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n" + bytes(512), codecs.BOM_UTF16_LE + b"\x00\xd8"],
    ids=["binary", "png", "broken-utf16"],
)
def test_undecodable_files_are_refused_with_an_encoding_message(data: bytes) -> None:
    with pytest.raises(NicheInputError, match="UTF-8"):
        detect_and_decode(data)


def test_unbalanced_quote_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text(
        "niche,city,batch_tag\n"
        'окна,"Москва,b1\n'  # unbalanced quote: swallows lines up to the next quote
        "клининг,Казань,b1\n"
        '"ремонт, отделка",Омск,b1\n'
        "стоматология,Сочи,b1\n",
        "utf-8",
    )
    rows = read_niches(_settings(), str(path))
    assert isinstance(rows[0], RowError) and "several lines" in rows[0].reason
    assert [r.niche for r in rows if isinstance(r, NicheRow)] == [
        "стоматология"
    ]  # never "окна" for all Russia


def test_field_count_other_than_the_header_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text(
        "niche;city;batch_tag\nремонт;Омск;b1;extra\n\nюрист;Томск\nстоматология;Сочи;b1\n;;\n", "utf-8"
    )
    table = parse_table(path.read_bytes())
    assert set(table.problems) == {1, 3}
    rows = read_niches(_settings(), str(path))
    errors = {r.row_number: r.reason for r in rows if isinstance(r, RowError)}
    assert errors == {2: "4 fields where the header has 3", 4: "2 fields where the header has 3"}
    assert [r.row_number for r in rows if isinstance(r, NicheRow)] == [5]


@pytest.mark.parametrize(
    "header", ["niche,city,niche", "niche,city,город", "niche,notes,Notes", "ниша,lr,region"]
)
def test_duplicate_columns_are_refused(tmp_path: Path, header: str) -> None:
    path = tmp_path / "n.csv"
    path.write_text(header + "\nокна,Москва,x\n", "utf-8")
    with pytest.raises(NicheInputError, match="duplicate column"):
        read_niches(_settings(), str(path))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"niche": "окна", "lr": "0"}, "1..999999"),
        ({"niche": "окна", "lr": "1" + "0" * 23}, "1..999999"),
        ({"niche": "окна", "lr": "-213"}, "numeric"),
        ({"niche": "окна", "lr": "213", "city": "Казань"}, "is Москва in the region dictionary"),
        ({"niche": "окна", "lr": "99999", "city": "Казань"}, "is lr 43 in the region dictionary"),
        ({"niche": "окна", "lr": "99999"}, "put the city's name next to it"),
    ],
)
def test_lr_is_checked_against_the_region_dictionary(raw: dict[str, str], reason: str) -> None:
    row = validate_row(raw, row_number=2)
    assert isinstance(row, RowError) and reason in row.reason, row


def test_lr_known_or_named_city_is_accepted() -> None:
    known = validate_row({"niche": "окна", "lr": "213", "city": "Москва"}, row_number=2)
    assert isinstance(known, NicheRow) and known.region_code == "213" and known.region_verified
    named = validate_row({"niche": "окна", "lr": "10986", "city": "Урюпинск"}, row_number=3)
    assert isinstance(named, NicheRow) and named.region_code == "10986" and not named.region_verified


@pytest.mark.parametrize("dry_run", [True, False])
def test_chunked_planning_equals_one_pass(
    session: Session, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    rows = [validate_row({"niche": n, "city": c, "batch_tag": "b1"}, row_number=i + 2) for i, (n, c) in
            enumerate([("окна", "Москва"), ("клининг", "Омск"), ("окна", "Москва"), ("юрист", "Томск"),
                       ("", "Сочи"), ("клининг", "Омск"), ("стоматология", "Казань")])]  # fmt: skip
    settings = _settings()
    one = plan_batch(session, settings, rows, batch_tag="b1", now=NOW, dry_run=True)
    monkeypatch.setattr(plan, "CHUNK_ROWS", 2)
    streamed = []
    chunked = plan_batch(
        session, settings, rows, batch_tag="b1", now=NOW, dry_run=dry_run, on_query=streamed.append
    )
    assert chunked.queries == []
    if dry_run:
        assert chunked.outcomes == one.outcomes
        assert streamed == one.queries
    else:
        assert [(o.row_number, o.db_inserted_count, o.db_duplicate_count, o.db_first_scheduled_for,
                 o.db_last_scheduled_for) for o in chunked.outcomes] == [
            (o.row_number, o.db_inserted_count, o.db_duplicate_count, o.db_first_scheduled_for,
             o.db_last_scheduled_for) for o in one.outcomes]  # fmt: skip
        assert [(q.query_hash, q.scheduled_for, q.inserted) for q in streamed] == [
            (q.query_hash, q.scheduled_for, q.inserted) for q in one.queries
        ]
