"""CSV input: UTF-8 with and without BOM, Windows-1251, `,` `;` and tab delimiters, quoting, header aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgen.errors import NicheInputError
from leadgen.planning import (
    NicheCsv,
    NicheRow,
    RowError,
    open_niches,
    parse_csv,
    read_niches,
    sniff_delimiter,
)
from leadgen.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "niches.csv"
TEXT = "niche;city;country;batch_tag\nСтоматология;Москва;Россия;b1\nОкна ПВХ;Нижний Новгород;;b1\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        TEXT.encode("utf-8-sig"),
        TEXT.encode("cp1251"),
        TEXT.replace(";", ",").encode("utf-8"),
        TEXT.replace(";", "\t").encode("cp1251"),
        TEXT.replace("\n", "\r\n").encode("utf-8-sig"),
    ],
    ids=["utf8", "utf8-bom", "cp1251", "comma", "tab-cp1251", "crlf-bom"],
)
def test_encodings_and_delimiters(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "niches.csv"
    path.write_bytes(data)
    rows = read_niches(Settings(_env_file=None), str(path))  # type: ignore[call-arg]
    assert [type(r) for r in rows] == [NicheRow, NicheRow]
    assert isinstance(rows[0], NicheRow) and rows[0].niche == "Стоматология" and rows[0].region_code == "213"
    assert isinstance(rows[1], NicheRow) and rows[1].region_code == "47" and rows[1].row_number == 3


def test_quoted_cells_with_delimiters_inside() -> None:
    data = 'Ниша,Город,Тег\n"Ремонт, отделка",Казань,b2\n'.encode()
    assert parse_csv(data) == [["Ниша", "Город", "Тег"], ["Ремонт, отделка", "Казань", "b2"]]


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"), ('"a;x",b,c', ","), ("single", ","), ("a;b,c", ",")],
)
def test_sniff_delimiter(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line + "\n1;2;3\n") == delimiter


def test_invalid_rows_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("niche;city\n;Москва\nокна;Готэм\n;\nокна;Омск\n", "utf-8")
    rows = read_niches(Settings(_env_file=None), str(path))  # type: ignore[call-arg]
    assert [(type(r).__name__, r.row_number) for r in rows] == [
        ("RowError", 2),
        ("RowError", 3),
        ("NicheRow", 5),
    ]


def test_status_skip_rows_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("niche,city,status\nокна,Омск,skip\nокна,Томск,planned\n", "utf-8")
    rows = read_niches(Settings(_env_file=None), str(path))  # type: ignore[call-arg]
    assert [r.row_number for r in rows] == [3]


def test_header_without_niche_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("city,country\nОмск,Россия\n", "utf-8")
    with pytest.raises(NicheInputError, match="niche"):
        read_niches(Settings(_env_file=None), str(path))  # type: ignore[call-arg]
    with pytest.raises(NicheInputError, match="not found"):
        read_niches(Settings(_env_file=None), str(tmp_path / "missing.csv"))  # type: ignore[call-arg]


def test_shipped_example_is_valid() -> None:
    niches = open_niches(Settings(_env_file=None), str(EXAMPLE))  # type: ignore[call-arg]
    assert isinstance(niches, NicheCsv)
    assert len(niches.rows) >= 5
    assert all(isinstance(r, NicheRow) for r in niches.rows), [
        r for r in niches.rows if isinstance(r, RowError)
    ]


@given(
    st.lists(st.sampled_from(["Москва", "Казань", "Омск", "Сочи"]), min_size=1, max_size=5),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]),
)
def test_any_supported_encoding_and_delimiter_round_trips(
    cities: list[str], delimiter: str, encoding: str
) -> None:
    text = delimiter.join(["niche", "city"]) + "\n" + "".join(f"окна{delimiter}{c}\n" for c in cities)
    grid = parse_csv(text.encode(encoding))
    assert grid[0] == ["niche", "city"]
    assert [row[1] for row in grid[1:]] == cities
