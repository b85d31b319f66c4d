"""Google Sheets input and write-back through gspread itself, with Google faked at the HTTP adapter."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from leadgen.errors import ConfigurationError, NicheInputError
from leadgen.planning import (
    STATUS_COLUMNS,
    NicheRow,
    NicheSheet,
    RowError,
    open_niches,
    plan_batch,
    sheet_key,
)
from leadgen.settings import Settings
from tests.support.fake_google import FakeGoogle, Worksheet, make_service_account

SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc"
GRID = [
    ["Niche", "City", "Country", "batch_tag", "owner"],
    ["Стоматология", "Москва", "Россия", "nov-1", "Аня"],
    ["Окна ПВХ", "Питер", "", "nov-1", ""],
    ["", "Казань", "", "nov-1", ""],
    ["Автосервис", "Урюпинск-на-Луне", "", "nov-1", ""],
    ["", "", "", "", ""],
    ["Клининг", "Екатеринбург", "", "dec-1", ""],
]


@pytest.fixture(scope="module")
def service_account() -> tuple[dict[str, str], object]:
    return make_service_account()


@pytest.fixture
def google(service_account: tuple[dict[str, str], object]) -> FakeGoogle:
    fake = FakeGoogle(public_key=service_account[1])
    fake.books[SHEET_ID] = [
        Worksheet("Лист1", [["x"]], sheet_id=0),
        Worksheet("NICHES_INPUT", [list(r) for r in GRID], sheet_id=7, cols=5, rows=50),
    ]
    return fake


def _settings(tmp_path, service_account, **kw) -> Settings:  # type: ignore[no-untyped-def]
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(service_account[0]), "utf-8")
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=kw.pop("database_url", f"sqlite:///{tmp_path / 'x.db'}"),
        google_service_account_file=key,
        niches_input=f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=7",
        **kw,
    )


@pytest.mark.parametrize(
    ("source", "key"),
    [
        (f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0", SHEET_ID),
        (SHEET_ID, SHEET_ID),
        ("niches.csv", None),
        ("./data/NICHES_INPUT", None),
    ],
)
def test_sheet_key(source: str, key: str | None) -> None:
    assert sheet_key(source) == key


def test_reads_rows_through_gspread_with_one_values_read(tmp_path, service_account, google) -> None:
    niches = open_niches(_settings(tmp_path, service_account), None, http=google)
    assert isinstance(niches, NicheSheet)
    rows = niches.rows
    assert [r.row_number for r in rows] == [2, 3, 4, 5, 7]
    first = rows[0]
    assert isinstance(first, NicheRow)
    assert (first.niche, first.city, first.region_code, first.batch_tag) == (
        "Стоматология",
        "Москва",
        "213",
        "nov-1",
    )
    assert first.extras == (("owner", "Аня"),)
    assert isinstance(rows[1], NicheRow) and rows[1].city == "Санкт-Петербург" and rows[1].region_code == "2"
    assert isinstance(rows[2], RowError) and "niche is empty" in rows[2].reason
    assert isinstance(rows[3], RowError) and "unknown city" in rows[3].reason
    value_reads = [url for method, url in google.calls if method == "GET" and "/values/" in url]
    assert len(value_reads) == 1
    assert any(url.startswith("https://oauth2.googleapis.com/token") for _, url in google.calls)


def test_write_back_is_one_batch_update_and_adds_header_columns(tmp_path, service_account, google) -> None:
    settings = _settings(tmp_path, service_account)
    niches = open_niches(settings, None, http=google)
    assert isinstance(niches, NicheSheet)
    from leadgen.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        report = plan_batch(session, settings, niches.rows, batch_tag="nov-1", now=now)
    google.calls.clear()
    google.bodies.clear()
    niches.write_back(report.outcomes)
    posts = [url for method, url in google.calls if method == "POST"]
    ranges = [item["range"] for body in google.bodies for item in body.get("data", [])]
    assert ranges == ["'NICHES_INPUT'!F1:L1", *(f"'NICHES_INPUT'!F{n}:L{n}" for n in (2, 3, 4, 5))]
    assert google.bodies[-1]["valueInputOption"] == "RAW"
    assert sum(url.endswith("values:batchUpdate") for url in posts) == 1
    assert (
        sum(url.endswith(":batchUpdate") and "/values" not in url for url in posts) == 1
    )  # widened the grid once
    ws = google.books[SHEET_ID][1]
    header = ws.values[0]
    assert header[:5] == GRID[0] and header[5:12] == list(STATUS_COLUMNS)
    col = {name: header.index(name) for name in STATUS_COLUMNS}
    assert ws.values[1][col["status"]] == "planned"
    assert ws.values[1][col["generated_count"]] == "6"
    assert ws.values[1][col["db_inserted_count"]] == "6"
    assert ws.values[1][col["db_first_scheduled_for"]] == "2026-11-27T00:00:00+03:00"
    assert ws.values[3][col["status"]] == "error" and "niche is empty" in ws.values[3][col["last_error"]]
    assert ws.values[4][col["status"]] == "error" and "Урюпинск" in ws.values[4][col["last_error"]]
    assert len(ws.values[6]) <= 5 or ws.values[6][col["status"]] == ""  # other batch untouched

    # a second run: statuses come back as already planned, columns reused, no grid change
    niches = open_niches(settings, None, http=google)
    with Session(engine) as session, session.begin():
        report = plan_batch(session, settings, niches.rows, batch_tag="nov-1", now=now)
    google.calls.clear()
    niches.write_back(report.outcomes)
    assert [m for m, _ in google.calls] == ["POST"]
    assert ws.values[0] == header
    assert ws.values[1][col["status"]] == "already_planned"
    assert ws.values[1][col["db_duplicate_count"]] == "6"
    engine.dispose()


def test_missing_worksheet_and_sheet_become_one_line_errors(tmp_path, service_account, google) -> None:
    with pytest.raises(NicheInputError, match="worksheet"):
        open_niches(_settings(tmp_path, service_account, niches_worksheet="Nope"), None, http=google)
    other = "9" * 44
    with pytest.raises(NicheInputError, match="not found"):
        open_niches(_settings(tmp_path, service_account), other, http=google)


def test_bad_key_is_rejected_by_the_token_endpoint(tmp_path, service_account, google) -> None:
    forged, _ = make_service_account()  # same shape, different private key
    with pytest.raises(NicheInputError, match="authentication"):
        open_niches(_settings(tmp_path, (forged, None)), None, http=google)


def test_missing_service_account_is_a_configuration_error(tmp_path) -> None:
    settings = Settings(_env_file=None, niches_input=SHEET_ID)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="GOOGLE_SERVICE_ACCOUNT"):
        open_niches(settings, None)


def test_existing_status_column_is_reused_and_skip_rows_untouched(tmp_path, service_account) -> None:
    fake = FakeGoogle(public_key=service_account[1])
    grid = [
        ["ниша", "Статус", "город"],
        ["Окна", "", "Омск"],
        ["Двери", "skip", "Томск"],
        ["Полы", "planned", "Москва"],
    ]
    fake.books[SHEET_ID] = [Worksheet("NICHES_INPUT", [list(r) for r in grid], sheet_id=3, cols=3, rows=10)]
    settings = _settings(tmp_path, service_account)
    niches = open_niches(settings, None, http=fake)
    assert [r.row_number for r in niches.rows] == [2, 4]
    from leadgen.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        report = plan_batch(
            session, settings, niches.rows, batch_tag="t", now=datetime(2026, 1, 5, tzinfo=UTC)
        )
    engine.dispose()
    fake.bodies.clear()
    niches.write_back(report.outcomes)
    ranges = [item["range"] for body in fake.bodies for item in body.get("data", [])]
    assert ranges == [
        "'NICHES_INPUT'!D1:I1",
        "'NICHES_INPUT'!B2",
        "'NICHES_INPUT'!D2:I2",
        "'NICHES_INPUT'!B4",
        "'NICHES_INPUT'!D4:I4",
    ]
    ws = fake.books[SHEET_ID][0]
    assert ws.cols == 9
    assert ws.values[0] == ["ниша", "Статус", "город", *STATUS_COLUMNS[1:]]
    assert ws.values[1][1] == "planned" and ws.values[3][1] == "planned"
    assert ws.values[2][1] == "skip" and len(ws.values[2]) == 3
