"""CLI: `leadgen contacts extract` on a saved page and `leadgen enrich` against the site farm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.db import Company, CompanyStatus, write_scope
from leadgen_sandbox.site_farm import SiteFarm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"
runner = CliRunner()


def test_extract_prints_json() -> None:
    result = runner.invoke(
        app, ["contacts", "extract", "--url", "https://stroygrad.ru/", str(FIXTURES / "stroy_footer.html")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["emails"] == ["info@stroygrad.ru", "tender@stroygrad.ru"]
    assert sorted(data["phones"]) == ["+74956401215", "+78005553218"]
    studio = [d for d in data["details"] if d["web_studio"]]
    assert [d["value"] for d in studio] == ["hello@webcanape.ru"] and studio[0]["quality"] == 0.3
    assert {"kind", "value", "source", "quality", "page_url", "extension", "web_studio"} <= set(
        data["details"][0]
    )


def test_extract_shows_international_addresses_in_unicode() -> None:
    page = FIXTURES / "zavod_cp1251_rf.html"  # windows-1251, mailto with a percent-encoded local part
    result = runner.invoke(
        app, ["contacts", "extract", "--url", "http://xn--80aaaywbhiionmfd6l.xn--p1ai/kontakty/", str(page)]
    )
    assert result.exit_code == 0, result.output
    assert '"продажи@уралстальмонтаж.рф"' in result.stdout  # not \u-escaped, not punycode
    emails = json.loads(result.stdout)["emails"]
    assert emails[:2] == ["приемная@уралстальмонтаж.рф", "продажи@уралстальмонтаж.рф"]


def test_extract_reads_stdin_and_cp1251() -> None:
    body = (FIXTURES / "logistics_cp1251.html").read_bytes()
    result = runner.invoke(app, ["contacts", "extract", "-"], input=body)
    assert result.exit_code == 0, result.output
    assert "dispatch@translogistic-spb.ru" in json.loads(result.stdout)["emails"]


def test_extract_missing_file_is_one_line() -> None:
    result = runner.invoke(app, ["contacts", "extract", "/no/such/page.html"])
    assert result.exit_code == 1
    assert "cannot read" in result.output and "Traceback" not in result.output


@pytest.fixture
def farm() -> SiteFarm:
    with SiteFarm(seed=5) as running:
        yield running  # type: ignore[misc]


def test_enrich_command(engine: Engine, db_url: str, farm: SiteFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    domains = [
        d for d in farm.domains(60) if farm.truth(d)["kind"] in ("footer", "table", "jsonld", "microdata")
    ][:4]
    with write_scope(engine) as session:
        for d in domains:
            session.add(Company(canonical_domain=d, website_url=f"https://{d}/", name=d))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CRAWL_PROXY_URL", farm.proxy_url)
    monkeypatch.setenv("CRAWL_PER_HOST_DELAY_SECONDS", "0")
    result = runner.invoke(app, ["enrich", "--limit", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert (report["claimed"], report["enriched"]) == (3, 3)
    result = runner.invoke(app, ["enrich", "--company", f"https://www.{domains[0]}/"])
    assert result.exit_code == 0, result.output
    with write_scope(engine) as session:
        statuses = list(session.scalars(select(Company.status).order_by(Company.id)))
    assert statuses == [CompanyStatus.ENRICHED] * 3 + [CompanyStatus.NEW]
    missing = runner.invoke(app, ["enrich", "--company", "nosuch.ru"])
    assert missing.exit_code == 1 and "no company with domain nosuch.ru" in missing.output
