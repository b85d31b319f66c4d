"""Benchmark: 1,000,000 generated SERP results (~200,000 domains) into Postgres, then dedupe; vs a plain COPY.

The timed total is `bulk_ingest_raw` (canonicalise + filter + store, pipelined: the next chunk is classified
while Postgres stores the current one) plus `dedupe_companies`, from the raw generated rows, with cold host caches.

Run: LEADGEN_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench
(or `pytest tests/perf/test_serp_bench.py -o addopts="" -s`). LEADGEN_BENCH_RESULTS scales the run down.
Figures are printed as a Markdown table; docs/performance.md records a measured run.
"""

from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from leadgen.companies import dedupe_companies
from leadgen.db import make_engine, migrate
from leadgen.domains import clear_caches, dedupe_hash
from leadgen.serp import DomainFilter, ResultRow, bulk_ingest_raw, ingest_payload, parse_serp, rows_from_raw
from leadgen.serp.bulk import RESULT_COLUMNS
from leadgen.settings import Settings

PG_URL = os.environ.get("LEADGEN_TEST_DATABASE_URL", "").strip()
N_RESULTS = int(os.environ.get("LEADGEN_BENCH_RESULTS", "1000000"))
N_DOMAINS = max(N_RESULTS // 5, 10)
PER_OPERATION = 50
DIRECTORY_SHARE = 0.10
STALE_COMPANIES = N_DOMAINS // 50
NAME_ONLY_PAIRS = 500
T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
DIRECTORY_URLS = (
    "https://2gis.ru/moscow/firm/{k}",
    "https://www.avito.ru/moskva/predlozheniya_uslug/{k}",
    "https://spb.hh.ru/vacancy/{k}",
    "https://vk.com/club{k}",
    "https://yandex.ru/maps/org/{k}/",
    "https://www.zoon.ru/msk/p/{k}/",
    "https://market.yandex.ru/product/{k}",
)

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs LEADGEN_TEST_DATABASE_URL (Postgres)")


def _domain(i: int) -> str:
    if i % 20 == 0:
        return f"фирма{i}.рф"
    if i % 10 == 1:
        return f"firm{i}.com"
    if i % 20 == 3:
        return f"firm{i}.msk.ru"
    return f"firm{i}.ru"


def _url(rng: random.Random, domain: str) -> str:
    prefix = rng.choice(("", "", "", "www.", "www.", "m.", "spb."))
    host = prefix + (domain.upper() if rng.random() < 0.02 else domain)
    path = rng.choice(("/", "/", "/kontakty/", "/about", f"/catalog/item{rng.randrange(50)}"))
    query = rng.choice(("", "", "", "?utm_source=yandex&utm_medium=organic", "?yclid=123456", "?page=2"))
    scheme = "https" if rng.random() < 0.8 else "http"
    return f"{scheme}://{host}{path}{query}"


def generate(n_results: int) -> list[tuple[str, str, str, str, int, int]]:
    """(operation_id, raw url, title, snippet, position, page); every domain appears at least once."""
    rng = random.Random(5)
    order = list(range(N_DOMAINS))
    rng.shuffle(order)
    rows = []
    next_new = 0
    for j in range(n_results):
        op, index = divmod(j, PER_OPERATION)
        if rng.random() < DIRECTORY_SHARE:
            url = rng.choice(DIRECTORY_URLS).format(k=rng.randrange(10**6))
        else:
            if next_new < N_DOMAINS:
                i, next_new = order[next_new], next_new + 1
            else:
                i = rng.randrange(N_DOMAINS)
            url = _url(rng, _domain(i))
        title = f"Компания {j % 9973} — окна, двери, ремонт"
        snippet = f"Телефон +7 495 {j % 1000:03d}-00-00. Работаем с 2004 года, доставка по Москве и области."
        rows.append((f"spp{op:08d}", url, title, snippet, index + 1, 0))
    return rows


def xml_page(operation: int, rng: random.Random) -> bytes:
    groups = []
    for k in range(PER_OPERATION):
        url = _url(rng, _domain(rng.randrange(N_DOMAINS))).replace("&", "&amp;")
        groups.append(
            f'<group><categ attr="d" name="x"/><doccount>1</doccount><doc id="d{k}"><url>{url}</url>'
            f"<domain>x</domain><title>Окна <hlword>ПВХ</hlword> в Москве {k}</title>"
            f"<headline>Производство окон.</headline><passages><passage>Телефон <hlword>окна</hlword> "
            f"+7 495 000-00-{k:02d}</passage></passages><mime-type>text/html</mime-type></doc></group>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><yandexsearch version="1.0"><request><query>окна</query>'
        f'<page>0</page><groupings><groupby attr="d" mode="deep" groups-on-page="{PER_OPERATION}" '
        'docs-in-group="1" curcateg="-1"/></groupings></request><response date="20261126T010000">'
        f'<reqid>{operation}</reqid><results><grouping attr="d" groups-on-page="{PER_OPERATION}">'
        f'<page first="1" last="{PER_OPERATION}">0</page>{"".join(groups)}</grouping></results></response>'
        "</yandexsearch>"
    ).encode()


@pytest.fixture(scope="module")
def bench_url() -> Iterator[str]:
    name = f"lgb_serp_{os.getpid()}"
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _backend_cpu(session: Session) -> float:
    """CPU seconds used so far by this session's Postgres backend (the server runs on this machine)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Step:
    """Wall time, client CPU and Postgres-backend CPU of one step."""

    def __init__(self) -> None:
        self.wall = self.client = self.server = 0.0

    def __enter__(self) -> Step:
        self._wall, self._client = time.perf_counter(), time.process_time()
        return self

    def server_from(self, session: Session, before: float) -> None:
        self.server += _backend_cpu(session) - before

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client = time.process_time() - self._client


def _copy_baseline(engine: Engine, rows: list[ResultRow]) -> Step:
    """COPY the classified rows, with serp_results' columns, into a table without indexes or constraints."""
    stamp = T0.isoformat()
    with Step() as step, Session(engine) as session, session.begin():
        before = _backend_cpu(session)
        session.execute(text("CREATE TABLE copy_baseline AS SELECT * FROM serp_results WITH NO DATA"))
        dbapi = session.connection().connection.driver_connection
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f"COPY copy_baseline ({', '.join(RESULT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for r in rows:
                copy.write_row(
                    (r.operation_id, r.query_id, r.url, r.domain, r.title, r.snippet, r.position, r.page,
                     r.skip_reason, None, stamp, stamp, "{}")
                )  # fmt: skip
        step.server_from(session, before)
    return step


def _add_stale_and_name_only(engine: Engine) -> int:
    """Companies from an older import: `www.`/upper-case spellings of known domains and name-only twins."""
    rng = random.Random(7)
    expected_duplicates = 0
    with Session(engine) as session, session.begin():
        ids = list(range(1, N_DOMAINS * 9 // 10, max(1, (N_DOMAINS * 9 // 10) // STALE_COMPANIES)))[
            :STALE_COMPANIES
        ]
        rows = []
        for n, i in enumerate(ids):
            stale = ("www." if n % 2 else "WWW.") + _domain(i)
            created = T0 - timedelta(days=1) if n % 3 == 0 else T0 + timedelta(hours=1)
            rows.append({"d": stale, "h": dedupe_hash(stale), "c": created, "n": f"Старое имя {i}"})
        for k in range(NAME_ONLY_PAIRS):
            base = f"Ромашка {k} {rng.choice(['Плюс', 'Сервис', 'Групп'])}"
            rows.append({"d": None, "h": None, "c": T0 + timedelta(minutes=k), "n": f"ООО «{base}»"})
            rows.append({"d": None, "h": None, "c": T0 + timedelta(minutes=k, seconds=1), "n": f"{base}"})
        session.execute(
            text(
                "INSERT INTO companies (canonical_domain, dedupe_hash, name, source, status, opt_out, first_seen_at,"
                " last_seen_at, created_at, updated_at, metadata) VALUES (:d, :h, :n, 'import', 'new', false, :c, :c,"
                " :c, :c, '{}'::jsonb)"
            ),
            rows,
        )
        expected_duplicates = len(ids) + NAME_ONLY_PAIRS
    return expected_duplicates


def test_ingest_and_dedupe_one_million(bench_url: str) -> None:
    settings = Settings(_env_file=None, database_url=bench_url)  # type: ignore[call-arg]
    filt = DomainFilter.from_settings(settings)
    engine = make_engine(bench_url)
    steps: dict[str, Step] = {}
    print(f"\nload average before the run (1/5/15 min, {os.cpu_count()} cores): {os.getloadavg()}")
    try:
        raw = generate(N_RESULTS)

        # Reference (not in the total): classification alone, and a plain COPY of its rows.
        with Step() as steps["classify"]:
            rows = rows_from_raw(raw, filt)
        distinct = {(r.operation_id, r.url): r for r in rows}
        n = len(distinct)
        kept_domains = {r.domain for r in distinct.values() if r.skip_reason is None and r.domain}
        steps["copy"] = _copy_baseline(engine, list(distinct.values()))
        del rows, distinct
        clear_caches()
        gc.collect()

        with Step() as steps["load"], Session(engine) as session, session.begin():
            before = _backend_cpu(session)
            report = bulk_ingest_raw(session, raw, domain_filter=filt, now=T0)
            steps["load"].server_from(session, before)
        assert report.results_inserted == n and report.companies_created == len(kept_domains), report
        assert report.chunks_upserted == 0, report

        expected_duplicates = _add_stale_and_name_only(engine)
        with Step() as steps["dedupe"], Session(engine) as session, session.begin():
            before = _backend_cpu(session)
            dedupe = dedupe_companies(session, settings)
            steps["dedupe"].server_from(session, before)
        assert dedupe.marked_duplicate == expected_duplicates, dedupe
        with Step() as steps["dedupe_again"], Session(engine) as session, session.begin():
            before = _backend_cpu(session)
            again = dedupe_companies(session, settings)
            steps["dedupe_again"].server_from(session, before)
        assert again.updated == 0

        with engine.connect() as conn:
            repeated = conn.scalar(
                text(
                    "SELECT count(*) - count(DISTINCT canonical_domain) FROM companies "
                    "WHERE status <> 'duplicate' AND canonical_domain IS NOT NULL"
                )
            )
            results = conn.scalar(text("SELECT count(*) FROM serp_results"))
        assert repeated == 0 and results == n

        # The per-operation path (parse + ingest_payload, one transaction per operation) on a sample.
        rng = random.Random(11)
        pages = [xml_page(op, rng) for op in range(200)]
        with Step() as steps["parse_sample"]:
            parsed = sum(len(parse_serp(p).documents) for p in pages)
        with Step() as steps["per_operation_sample"]:
            for op, page in enumerate(pages):
                with Session(engine) as session, session.begin():
                    ingest_payload(session, settings, operation_id=f"sample{op}", xml=page, now=T0)
    finally:
        engine.dispose()

    total = Step()
    for name in ("load", "dedupe"):
        total.wall += steps[name].wall
        total.client += steps[name].client
        total.server += steps[name].server
    table = [
        (
            f"canonicalise + filter + `bulk_ingest_raw` ({N_RESULTS:,} raw → {n:,} results, "
            f"{len(kept_domains):,} companies; {report.chunks_copied} chunks COPYed)",
            steps["load"],
            n,
        ),
        (
            f"dedupe_companies ({dedupe.companies:,} companies, {dedupe.marked_duplicate:,} marked)",
            steps["dedupe"],
            dedupe.companies,
        ),
        ("**total: canonicalise + ingest + dedupe**", total, n),
        ("dedupe_companies again (no change)", steps["dedupe_again"], dedupe.companies),
        ("reference, not in the total: canonicalise + filter alone (`rows_from_raw`)", steps["classify"], n),
        ("reference, not in the total: plain COPY of the same rows", steps["copy"], n),
        (f"parse_serp sample (200 pages, {parsed:,} docs)", steps["parse_sample"], parsed),
        (
            "ingest_payload sample (200 operations × 50, one transaction each)",
            steps["per_operation_sample"],
            parsed,
        ),
    ]
    print()
    print("| step | wall s | client CPU s | Postgres backend CPU s | rows/s (wall) |")
    print("|---|---:|---:|---:|---:|")
    for label, step, count in table:
        server = f"{step.server:.1f}" if step.server else ""
        print(f"| {label} | {step.wall:.1f} | {step.client:.1f} | {server} | {count / step.wall:,.0f} |")
    ratio = steps["load"].wall / steps["copy"].wall
    print(f"ratio canonicalise + filter + bulk_ingest_raw / plain COPY (wall time): {ratio:.2f}x")
    server_ratio = steps["load"].server / steps["copy"].server
    print(f"ratio of Postgres backend CPU, bulk_ingest_raw / plain COPY: {server_ratio:.2f}x")
    print(f"repeated domains among kept companies: {repeated}")
    print(f"load average after the run (1/5/15 min, {os.cpu_count()} cores): {os.getloadavg()}")
