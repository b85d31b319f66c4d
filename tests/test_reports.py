"""Reports on SQLite and Postgres: funnel per batch, views, quality checks and CSV exports; plus the CLI."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    ContactSource,
    MessageStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    QueryStatus,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from leadgen.exports import export_contacts, export_domains
from leadgen.pipeline_stats import daily_summaries, funnel, funnels, quality, top_domains

T = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def seed(session: Session) -> None:
    q1 = SerpQuery(query_text="окна Москва", region_code="213", query_hash="a" * 40, batch_tag="b1",
                   status=QueryStatus.DONE, scheduled_for=T)  # fmt: skip
    q2 = SerpQuery(query_text="окна Москва цены", region_code="213", query_hash="b" * 40, batch_tag="b1")
    q3 = SerpQuery(query_text="клининг Омск", region_code="66", query_hash="c" * 40, batch_tag="b2")
    session.add_all([q1, q2, q3])
    session.flush()
    session.add_all(
        [
            SerpOperation(operation_id="spp1", query_id=q1.id),
            SerpOperation(operation_id="spp2", query_id=q3.id),
        ]
    )
    results = [
        ("okna-msk.ru", 1, None), ("okna-msk.ru", 2, None), ("www.avito.ru", 3, "directory"),
        ("spb.zoon.ru", 4, "directory"), ("pvh-okna.ru", 5, None),
    ]  # fmt: skip
    for i, (domain, pos, skip) in enumerate(results):
        session.add(
            SerpResult(
                operation_id="spp1",
                query_id=q1.id,
                url=f"https://{domain}/{i}",
                domain=domain,
                position=pos,
                skip_reason=skip,
            )
        )
    session.add(
        SerpResult(operation_id="spp2", query_id=q3.id, url="https://clean-omsk.ru/", domain="clean-omsk.ru")
    )
    session.add(SerpOperation(operation_id="spp-orphan", query_id=None))  # its query was deleted
    good = Company(name="Окна Москвы", canonical_domain="okna-msk.ru", batch_tag="b1", status=CompanyStatus.ENRICHED,
                   niche="окна", city="Москва", website_url="https://okna-msk.ru/")  # fmt: skip
    opted = Company(name="ПВХ", canonical_domain="pvh-okna.ru", batch_tag="b1", status=CompanyStatus.ENRICHED)
    dup = Company(name="Окна Москвы (дубль)", batch_tag="b1", status=CompanyStatus.DUPLICATE)
    excluded = Company(
        name="Каталог", canonical_domain="catalog.ru", batch_tag="b1", status=CompanyStatus.EXCLUDED
    )
    other = Company(name="Чисто", canonical_domain="clean-omsk.ru", batch_tag="b2", status=CompanyStatus.NEW)
    session.add_all([good, opted, dup, excluded, other])
    session.flush()
    dup.duplicate_of_id = good.id
    c1 = Contact(company_id=good.id, kind=ContactKind.EMAIL, value="info@okna-msk.ru", source=ContactSource.MAILTO,
                 quality_score=1.0, is_primary=True)  # fmt: skip
    c2 = Contact(company_id=good.id, kind=ContactKind.PHONE, value="+74951234567", source=ContactSource.TEL,
                 quality_score=0.9)  # fmt: skip
    c3 = Contact(company_id=good.id, kind=ContactKind.EMAIL, value="Boss@okna-msk.ru", source=ContactSource.TEXT,
                 quality_score=0.8)  # fmt: skip
    c4 = Contact(company_id=opted.id, kind=ContactKind.EMAIL, value="sales@pvh-okna.ru", source=ContactSource.TEXT,
                 quality_score=0.8)  # fmt: skip
    session.add_all([c1, c2, c3, c4])
    session.add_all(
        [
            OptOut(value="boss@okna-msk.ru", kind=OptOutKind.EMAIL, source="reply"),
            OptOut(value="pvh-okna.ru", kind=OptOutKind.DOMAIN, source="reply"),
        ]
    )
    session.flush()
    for contact, status in (
        (c1, MessageStatus.SENT),
        (c3, MessageStatus.SKIPPED),
        (c4, MessageStatus.FAILED),
    ):
        session.add(OutreachMessage(contact_id=contact.id, company_id=contact.company_id, campaign="c1", status=status,
                                    sent_at=T if status == MessageStatus.SENT else None))  # fmt: skip
    session.add(
        OutreachMessage(contact_id=c2.id, company_id=good.id, campaign="c1", status=MessageStatus.DRAFTED)
    )
    session.flush()


def test_funnel_per_batch(session: Session) -> None:
    seed(session)
    b1 = funnel(session, batch_tag="b1")
    assert (b1.queries, b1.queries_pending, b1.queries_done) == (2, 1, 1)
    assert (b1.operations, b1.results) == (1, 5)
    assert (b1.companies, b1.duplicates, b1.contacts) == (3, 1, 4)
    assert (b1.drafted, b1.sent, b1.failed, b1.skipped) == (4, 1, 1, 1)
    assert b1.opted_out == 2  # sales@pvh-okna.ru (domain opted out) and boss@okna-msk.ru (address opted out)
    everything = funnel(session)
    assert (everything.queries, everything.operations, everything.results, everything.companies) == (
        3,
        3,
        6,
        4,
    )
    assert [f.batch_tag for f in funnels(session)] == ["b1", "b2"]
    empty = funnel(session, batch_tag="nope")
    assert (empty.queries, empty.companies, empty.opted_out) == (0, 0, 0)


def test_views_and_quality(session: Session) -> None:
    seed(session)
    days = daily_summaries(session)
    assert (
        sum(d.queries for d in days) == 3
        and sum(d.results for d in days) == 6
        and sum(d.sent for d in days) == 1
    )
    top = top_domains(session, limit=3)
    assert top[0].domain == "okna-msk.ru" and top[0].results == 2 and top[0].best_position == 1
    q = quality(session, batch_tag="b1", minus_domains=["pvh-okna.ru"])
    assert (q.companies_total, q.companies_repeated) == (4, 1)
    assert q.repeated_domain_rate == 0.25
    assert (q.results_total, q.results_leaked) == (5, 3)  # www.avito.ru, spb.zoon.ru (subdomain), pvh-okna.ru
    assert dict(q.leaked_domains) == {"www.avito.ru": 1, "spb.zoon.ru": 1, "pvh-okna.ru": 1}
    assert quality(session, batch_tag="b2").results_leaked == 0


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_exports_leave_out_opted_out_duplicates_and_excluded(session: Session, tmp_path: Path) -> None:
    seed(session)
    assert export_domains(session, tmp_path / "d.csv") == 2
    rows = _read(tmp_path / "d.csv")
    assert [r["domain"] for r in rows] == ["clean-omsk.ru", "okna-msk.ru"]
    msk = rows[1]
    assert (msk["emails"], msk["phones"], msk["primary_email"], msk["status"]) == (
        "2",
        "1",
        "info@okna-msk.ru",
        "enriched",
    )
    assert export_domains(session, tmp_path / "b2.csv", batch_tag="b2") == 1
    assert export_contacts(session, tmp_path / "c.csv") == 2
    contacts = _read(tmp_path / "c.csv")
    assert {(c["kind"], c["value"]) for c in contacts} == {
        ("email", "info@okna-msk.ru"),
        ("phone", "'+74951234567"),  # a leading + is a formula character: neutralised (docs/reporting.md)
    }


@pytest.fixture
def seeded_db(engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as s, s.begin():
        seed(s)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_cli_report_json_and_tables(seeded_db: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--batch-tag", "b1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["funnel"]["queries"] == 2 and data["funnel"]["sent"] == 1
    assert data["quality"]["results_leaked"] == 2
    assert data["top_domains"][0]["domain"] == "okna-msk.ru"
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    assert "Funnel per batch" in result.output and "okna-msk.ru" in result.output


def test_cli_exports(seeded_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["export", "domains", "--out", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert "wrote 2 domains" in result.output
    result = runner.invoke(app, ["export", "contacts", "--out", str(tmp_path / "c.csv"), "--batch-tag", "b1"])
    assert result.exit_code == 0 and "wrote 2 contacts" in result.output
