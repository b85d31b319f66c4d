"""ingest_pages (COPY on Postgres, page by page on SQLite) stores exactly what ingest_payload stores page after page."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from leadgen.companies import dedupe_companies
from leadgen.db import Company, SerpQuery, SerpResult
from leadgen.db.engine import make_engine
from leadgen.domains import dedupe_hash
from leadgen.errors import SerpParseError
from leadgen.serp import ingest_payload, pageplan
from leadgen.serp import pages as pages_module
from leadgen.serp.pages import Payload, ingest_pages
from leadgen.settings import Settings
from tests.conftest import _PREFIX, create_pg_database, drop_pg_database
from tests.serp.conftest import fixture_bytes

T0 = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
DIRECTORIES = (
    "https://2gis.ru/moscow/firm/{k}",
    "https://spb.hh.ru/vacancy/{k}",
    "https://www.avito.ru/moskva/{k}",
)
HOSTILE = (
    '<?xml version="1.0" encoding="utf-8"?><yandexsearch><response><results><grouping>'
    '<group><doc><url>https://slash.ru/a\\b?q="x"&amp;utm_source=y</url><title>C:\\Temp &#92;N «Окна» "ПВХ"</title>'
    '<headline>Say "hi" \\ there</headline></doc></group>'
    "<group><doc><url>https://tab.ru/</url><title>a&#9;b\\</title>"
    "<passages><passage>line&#10;two \\N</passage></passages></doc></group>"
    "</grouping></results></response></yandexsearch>"
).encode()
TITLES = ("Окна ПВХ {k} — производство", "Отзывы о фирме {k}: адреса и телефоны", "Компания {k}", None)


def _doc(url: str, title: str | None, snippet: str | None) -> str:
    title_xml = f"<title>{title}</title>" if title is not None else ""
    passages = (
        f"<passages><passage>{snippet}</passage></passages>" if snippet else "<headline>Окна.</headline>"
    )
    return f"<doc><url>{url.replace('&', '&amp;')}</url>{title_xml}{passages}</doc>"


def xml_page(rng: random.Random, number: int, groups: int = 12) -> bytes:
    """A page whose domains recur across pages, with directories, `www.`/`utm` twins and multi-doc groups."""
    body = []
    for k in range(groups):
        if rng.random() < 0.2:
            docs = [_doc(rng.choice(DIRECTORIES).format(k=rng.randrange(50)), f"Каталог {k}", None)]
        else:
            domain = f"firm{rng.randrange(40)}.ru"
            host = rng.choice(("", "www.", "msk.")) + domain
            path = rng.choice(("/", "/kontakty/", "/?utm_source=yandex", "/about"))
            title = rng.choice(TITLES)
            docs = [_doc(f"https://{host}{path}", title and title.format(k=k), f"Телефон {k}")]
            if rng.random() < 0.3:  # a second doc of the group: the same site, or its utm twin
                docs.append(_doc(f"https://{domain}/?utm_medium=organic", title and title.format(k=k), None))
        body.append(f"<group><categ attr='d' name='g{k}'/>{''.join(docs)}</group>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><yandexsearch version="1.0"><request><query>окна</query>'
        f"<page>{number % 3}</page><groupings><groupby attr='d' groups-on-page='{groups}'/></groupings></request>"
        f"<response date='20261126T013000'><results><grouping groups-on-page='{groups}'>"
        f"<page first='1'>{number % 3}</page>{''.join(body)}</grouping></results></response></yandexsearch>"
    ).encode()


@pytest.fixture
def twin_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second freshly migrated database on the same backend."""
    if backend == "sqlite":
        path = tmp_path / "twin.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    name = f"{_PREFIX}_twin_{id(request)}"
    url = create_pg_database(name, template=request.getfixturevalue("pg_template"))
    yield url
    drop_pg_database(name)


def _seed(engine: Engine) -> list[int]:
    """Queries (one with niche and city), a company seen before, a stale spelling holding a dedupe hash."""
    with Session(engine) as session, session.begin():
        queries = [
            SerpQuery(query_text=f"окна {i}", region_code="213", query_hash=f"{i:040d}", batch_tag="b-okna",
                      meta={"niche": "пластиковые окна", "city": "Москва"} if i == 0 else {})
            for i in range(2)
        ]  # fmt: skip
        session.add_all(queries)
        earlier = T0 - timedelta(days=3)
        session.add(Company(canonical_domain="firm1.ru", dedupe_hash=dedupe_hash("firm1.ru"), name="Фирма 1",
                            first_seen_at=earlier, last_seen_at=earlier, created_at=earlier, updated_at=earlier))  # fmt: skip
        session.add(Company(canonical_domain="www.firm2.ru", dedupe_hash=dedupe_hash("firm2.ru"), name="Старая",
                            first_seen_at=earlier, last_seen_at=earlier, created_at=earlier, updated_at=earlier))  # fmt: skip
        session.flush()
        return [q.id for q in queries]


def _payloads(query_ids: list[int]) -> list[Payload]:
    rng = random.Random(21)
    out = [Payload(f"op{n:03d}", xml_page(rng, n), rng.choice([*query_ids, None])) for n in range(40)]
    out[5] = Payload("op005", out[5].xml[: len(out[5].xml) // 2], query_ids[0])  # truncated in transit
    out[9] = Payload("op009", b"<html>not xml</html>", None)
    out[12] = Payload("op012", out[12].xml, 999_999)  # a query that does not exist
    out.append(Payload("op-fixture0", fixture_bytes("page0_moscow_windows.xml"), query_ids[0]))
    out.append(Payload("op-fixture2", fixture_bytes("page2_multidoc_missing_tags.xml"), query_ids[1]))
    out.append(Payload("op-empty", fixture_bytes("no_results_15.xml"), None))
    out.append(Payload("op-hostile\\x\ty", HOSTILE, query_ids[1]))  # COPY text escapes (backslash, tab, \\N)
    return out


def _stored(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored column of results and companies, ids replaced by what they point at."""
    with Session(engine) as session:
        domains = dict(session.execute(select(Company.id, Company.canonical_domain)).all())
        results = sorted(
            (r.operation_id, r.query_id, r.url, r.domain, r.title, r.snippet, r.position, r.page, r.skip_reason,
             domains.get(r.company_id), r.meta, r.created_at, r.updated_at)
            for r in session.scalars(select(SerpResult))
        )  # fmt: skip
        companies = sorted(
            (c.canonical_domain, c.dedupe_hash, c.name, c.website_url, c.source, c.status, c.opt_out, c.snippet,
             c.niche, c.city, c.region_code, c.batch_tag, c.first_seen_at, c.last_seen_at, c.meta,
             domains.get(c.duplicate_of_id), c.status_reason)
            for c in session.scalars(select(Company))
        )  # fmt: skip
    return results, companies


def _page_after_page(engine: Engine, settings: Settings, payloads: list[Payload]) -> dict[str, Any]:
    """Today's path: ingest_payload per page, one transaction each; a page that does not parse is skipped."""
    out: dict[str, Any] = {}
    for p in payloads:
        try:
            with Session(engine) as session, session.begin():
                report = ingest_payload(
                    session, settings, operation_id=p.operation_id, xml=p.xml, query_id=p.query_id, now=T0
                )
        except SerpParseError as exc:
            out[p.operation_id] = str(exc)
            continue
        out[p.operation_id] = asdict(report)
    return out


@pytest.mark.parametrize("planner", ["thread", "processes"])
def test_both_paths_store_the_same_rows(
    db_url: str, twin_url: str, backend: str, planner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if planner == "processes" and backend == "sqlite":
        pytest.skip("SQLite stores page by page: no planner runs")
    monkeypatch.setattr(pages_module, "CHUNK_ROWS", 40)  # several chunks of a few pages each
    if planner == "processes":  # the planner big batches get: pages parsed in spawned processes
        monkeypatch.setattr(pageplan, "PROCESS_MIN_BYTES", 0)
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    page_db, bulk_db = make_engine(twin_url), make_engine(db_url)
    try:
        query_ids = _seed(page_db)
        assert _seed(bulk_db) == query_ids
        payloads = _payloads(query_ids)
        # op020 was stored before (a re-run): its chunk conflicts and goes page by page on the bulk side
        _page_after_page(bulk_db, settings, [payloads[20]])
        expected = _page_after_page(page_db, settings, [payloads[20], *payloads])

        with Session(bulk_db) as session, session.begin():
            report = ingest_pages(session, settings, payloads, now=T0)
        assert _stored(bulk_db) == _stored(page_db)
        got = {op: asdict(r) for op, r in report.reports.items()} | {
            op: str(exc) for op, exc in report.rejected.items()
        }
        assert got == expected  # op020: the re-run reports what a second ingest_payload reports
        assert set(report.rejected) == {"op005", "op009"}
        (missing,) = report.reports["op012"].errors
        assert (missing.item, missing.id, missing.outcome) == ("query", 999999, "stored without query_id")
        assert missing in report.errors
        if backend == "postgres":
            assert report.path == "copy" and report.chunks_copied >= 3 and report.chunks_upserted == 1
        assert sum(1 for r in _stored(bulk_db)[0] if r[0] == "op020") > 0

        for engine in (page_db, bulk_db):  # the dedupe pass then finds the same duplicates on both sides
            with Session(engine) as session, session.begin():
                dedupe_companies(session, settings, now=lambda: T0)
        assert _stored(bulk_db)[1] == _stored(page_db)[1]
    finally:
        page_db.dispose()
        bulk_db.dispose()


def test_a_bad_payload_costs_only_itself(engine: Engine, settings: Settings) -> None:
    rng = random.Random(3)
    good = [Payload(f"g{n}", xml_page(rng, n)) for n in range(3)]
    bad = Payload("bad", good[0].xml[:-40])
    with Session(engine) as session, session.begin():
        report = ingest_pages(session, settings, [good[0], bad, *good[1:]], now=T0)
    assert set(report.reports) == {"g0", "g1", "g2"} and "invalid XML" in str(report.rejected["bad"])
    assert [(e.item, e.id, e.outcome) for e in report.errors] == [("page", "bad", "rejected")]
    with Session(engine) as session:
        stored = dict(
            session.execute(
                text("SELECT operation_id, count(*) FROM serp_results GROUP BY operation_id")
            ).all()
        )
    assert stored == {op: report.reports[op].results for op in ("g0", "g1", "g2")}
