"""`leadgen serp parse|ingest` and `leadgen dedupe` through the real Typer app and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db import Company, SerpResult
from leadgen.serp.filter import read_list_file
from tests.serp.conftest import FIXTURES

runner = CliRunner()


def test_parse_prints_one_json_object_per_result() -> None:
    result = runner.invoke(app, ["serp", "parse", str(FIXTURES / "page0_moscow_windows.xml")])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 10
    assert {"url", "domain", "title", "snippet", "position", "skip_reason"} <= set(records[0])
    assert records[0]["domain"] == "okna-stroy.ru" and records[0]["skip_reason"] is None
    assert records[1]["skip_reason"] == "directory:maps"
    assert records[2]["domain"] == "окна-мастер.рф"
    assert [r["position"] for r in records] == list(range(1, 11))


def test_parse_empty_result_prints_nothing() -> None:
    result = runner.invoke(app, ["serp", "parse", str(FIXTURES / "no_results_15.xml")])
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("malformed_truncated.xml", "invalid XML"),
        ("error_32_daily_limit.xml", "Yandex XML error 32"),
        ("xxe_entity.xml", "forbidden XML construct"),
        ("does-not-exist.xml", "cannot read"),
    ],
)
def test_parse_failures_are_one_line_without_traceback(name: str, fragment: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "serp", "parse", str(FIXTURES / name)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:"},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_ingest_then_dedupe(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    page = str(FIXTURES / "page0_moscow_windows.xml")
    result = runner.invoke(app, ["serp", "ingest", page, "--operation-id", "spp-cli-1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["results_inserted"] == 9 and report["companies_created"] == 4
    again = json.loads(runner.invoke(app, ["serp", "ingest", page, "--operation-id", "spp-cli-1"]).stdout)
    assert again["results_inserted"] == 0 and again["results_existing"] == 9

    bad = runner.invoke(app, ["serp", "ingest", str(FIXTURES / "error_55_rps.xml"), "--operation-id", "x"])
    assert bad.exit_code == 1 and "Yandex XML error 55" in bad.output

    dedupe = runner.invoke(app, ["dedupe"])
    assert dedupe.exit_code == 0, dedupe.output
    assert json.loads(dedupe.stdout)["companies"] == 4

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(SerpResult.__table__)) == 9
            assert conn.scalar(select(func.count()).select_from(Company.__table__)) == 4
    finally:
        engine.dispose()


def test_parse_prints_repeat_and_where_each_reason_came_from() -> None:
    result = runner.invoke(app, ["serp", "parse", str(FIXTURES / "page0_moscow_windows.xml")])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_url = {r["url"]: (r["skip_reason"], r["skip_source"]) for r in records}
    assert by_url["https://oknadom.ru/?yclid=7712398123&from=yandex"] == (
        "repeat",
        None,
    )  # msk.oknadom.ru above
    assert by_url["https://hh.ru/vacancies/montazhnik_okon"] == ("directory:jobs", "shipped")
    kept = [r["domain"] for r in records if r["skip_reason"] is None]
    assert len(kept) == len(set(kept)) == 4


def test_parse_of_a_labelled_page_shows_signals() -> None:
    page = FIXTURES / "labelled" / "tune" / "tune_01_plastikovye-okna_kazan.xml"
    records = [
        json.loads(line) for line in runner.invoke(app, ["serp", "parse", str(page)]).stdout.splitlines()
    ]
    sources = {r["skip_source"] for r in records}
    assert {"signal", None} <= sources
    assert all(r["skip_reason"] for r in records if r["skip_source"] == "signal")


def test_directories_lists_every_entry_with_its_source(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    listing = tmp_path / "mine.tsv"
    listing.write_text("okna-katalog.ru directory file\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DIRECTORY_DOMAINS_FILE", str(listing))
    monkeypatch.setenv("DIRECTORY_DOMAINS_EXTRA", "extra-firm.ru")
    result = runner.invoke(app, ["serp", "directories", "--cross-query"])
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in result.stdout.splitlines()}
    assert lines["2gis.ru"] == ["maps", "shipped"]
    assert lines["okna-katalog.ru"] == ["directory", "file"]
    assert lines["extra-firm.ru"] == ["extra", "settings"]
    assert "avito.ru" in lines and len(lines) > 400
    # the output is a valid list file
    (tmp_path / "again.tsv").write_text(result.stdout, encoding="utf-8")
    assert len(read_list_file(tmp_path / "again.tsv")) == len(lines)

    monkeypatch.setenv("DIRECTORY_DOMAINS_FILE", str(tmp_path / "missing.tsv"))
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "serp", "parse", str(FIXTURES / "page0_moscow_windows.xml")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:",
             "DIRECTORY_DOMAINS_FILE": str(tmp_path / "missing.tsv")},
    )  # fmt: skip
    assert (
        proc.returncode == 2 and proc.stderr.startswith("error:") and "cannot read" in proc.stderr
    )  # configuration
    assert "Traceback" not in proc.stderr
