"""Benchmark: 1,000,000 SERP results from base64 Yandex payloads to deduped companies, on the production path.

Timed: decode the rawData of 20,000 finished operations (50 results each, ~200,000 domains), `ingest_pages` (parse
+ classify + COPY: what `collect_results` and `leadgen serp ingest` run on PostgreSQL), then `dedupe_companies`.
Target: under 60 s per million results (asserted, recorded as `serp.payloads_to_companies`). Then the production
collect round itself (`collect_operations` with `make_collector`, as tasks/search.py calls it, against the Yandex
emulator over loopback HTTP), alternated with the per-page upsert round: its cost per operation is recorded as
`serp.collect_round_per_operation` and must stay below the per-page round's.

Run: LEADGEN_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
  pytest tests/perf/test_serp_bench.py -p no:cacheprovider -o addopts="" -s
LEADGEN_BENCH_RESULTS scales the run down (the target scales with it); LEADGEN_BENCH_OUT collects the figures.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import os
import random
import resource
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from leadgen.clock import ManualClock
from leadgen.companies import dedupe_companies
from leadgen.db import SerpQuery, make_engine, migrate
from leadgen.domains import clear_caches, dedupe_hash
from leadgen.serp import DomainFilter, make_on_done
from leadgen.serp.collect import make_collector
from leadgen.serp.pages import Payload, ingest_pages
from leadgen.settings import Settings
from leadgen.yandex import YandexClient
from leadgen.yandex.collect import CollectReport, collect_operations
from leadgen.yandex.submit import submit_due_queries
from leadgen.yandex.types import Operation
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator
from tests.perf.recording import record_figure

PG_URL = os.environ.get("LEADGEN_TEST_DATABASE_URL", "").strip()
N_RESULTS = int(os.environ.get("LEADGEN_BENCH_RESULTS", "1000000"))
N_DOMAINS = max(N_RESULTS // 5, 10)
PER_OPERATION = 50
ROUND_OPERATIONS = 100
NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
COMMAND = (
    "LEADGEN_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test "
    'pytest tests/perf/test_serp_bench.py -p no:cacheprovider -o addopts="" -s'
)  # 01:00 Moscow: inside the night window
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


def _result(rng: random.Random, j: int, next_new: list[int], order: list[int]) -> tuple[str, str, str]:
    """(raw url, title, snippet) of the j-th generated result; every domain appears at least once."""
    if rng.random() < DIRECTORY_SHARE:
        url = rng.choice(DIRECTORY_URLS).format(k=rng.randrange(10**6))
    else:
        if next_new[0] < N_DOMAINS:
            i, next_new[0] = order[next_new[0]], next_new[0] + 1
        else:
            i = rng.randrange(N_DOMAINS)
        url = _url(rng, _domain(i))
    title = f"Компания {j % 9973} — окна, двери, ремонт"
    snippet = f"Телефон +7 495 {j % 1000:03d}-00-00. Работаем с 2004 года, доставка по Москве и области."
    return url, title, snippet


def _doc_xml(k: int, url: str, title: str, snippet: str) -> str:
    """One group as the Yandex XML API writes it (relevance, domain, modtime, passages, properties, ...)."""
    host = url.split("/", 3)[2].lower()
    head, _, tail = title.partition(" ")
    return (
        f'<group><categ attr="d" name="{host}"/><doccount>{k + 1}</doccount><relevance priority="all"/>'
        f'<doc id="Z{k:016X}"><relevance priority="phrase"/><url>{url.replace("&", "&amp;")}</url>'
        f"<domain>{host}</domain><title><hlword>{head}</hlword> {tail}</title>"
        "<headline>Производство и установка окон.</headline><modtime>20261101T101010</modtime>"
        "<size>34567</size><charset>utf-8</charset><passages><passage>"
        f"{snippet[:24]}<hlword>окна</hlword>{snippet[24:]}</passage></passages>"
        "<properties><_PassagesType>0</_PassagesType><lang>ru</lang></properties>"
        f"<mime-type>text/html</mime-type><saved-copy-url>https://hghltd.yandex.net/yandbtm?fmode=inject&amp;"
        f"url={k}</saved-copy-url></doc></group>"
    )


def generate_operations(n_results: int) -> list[Operation]:
    """Finished operations as GET /operations/{id} returns them: PER_OPERATION results each, rawData base64."""
    rng = random.Random(5)
    order = list(range(N_DOMAINS))
    rng.shuffle(order)
    next_new = [0]
    out = []
    for op in range(-(-n_results // PER_OPERATION)):
        first = op * PER_OPERATION
        groups = "".join(
            _doc_xml(j - first, *_result(rng, j, next_new, order))
            for j in range(first, min(first + PER_OPERATION, n_results))
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?><yandexsearch version="1.0"><request><query>окна</query>'
            f'<page>0</page><groupings><groupby attr="d" mode="deep" groups-on-page="{PER_OPERATION}" '
            'docs-in-group="1" curcateg="-1"/></groupings></request><response date="20261126T010000">'
            f'<reqid>{op}</reqid><found priority="all">12345</found><results><grouping attr="d" '
            f'groups-on-page="{PER_OPERATION}"><page first="1" last="{PER_OPERATION}">0</page>{groups}'
            "</grouping></results></response></yandexsearch>"
        )
        body = {
            "id": f"spp{op:08d}",
            "done": True,
            "response": {"rawData": base64.b64encode(xml.encode()).decode()},
        }
        out.append(Operation.from_json(body))
    return out


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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Step:
    """Wall time, client CPU (this process, and its finished worker processes) and Postgres-backend CPU."""

    def __init__(self) -> None:
        self.wall = self.client = self.workers = self.server = 0.0

    def __enter__(self) -> Step:
        self._wall, self._client, self._workers = time.perf_counter(), time.process_time(), _children_cpu()
        return self

    def server_from(self, session: Session, before: float) -> None:
        self.server += _backend_cpu(session) - before

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client = time.process_time() - self._client
        self.workers = _children_cpu() - self._workers


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


def _round(url: str, kind: str, n_ops: int) -> tuple[float, CollectReport]:
    """One production collect round over `n_ops` finished operations of the Yandex emulator (loopback HTTP,
    no quota: the round's own cost); `kind` is "collector" (what tasks/search.py runs) or "per_page"."""
    clock = ManualClock(NIGHT)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all(
            SerpQuery(query_text=f"{kind} окна {i}", region_code="213", batch_tag=kind, scheduled_for=NIGHT,
                      query_hash=hashlib.sha1(f"{kind}{i}".encode()).hexdigest())
            for i in range(n_ops)
        )  # fmt: skip

    async def run() -> tuple[float, CollectReport]:
        with YandexEmulator(
            EmulatorConfig(clock=clock, time_to_done=600, rps=None, rph=None, seed=zlib.crc32(kind.encode()))
        ) as emu:
            settings = Settings(_env_file=None, database_url=url, **emu.settings_overrides(auth="api_key"))  # type: ignore[call-arg]
            async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
                await submit_due_queries(engine, client, settings, now=clock, limit=n_ops, batch_tag=kind)
                clock.advance(600)
                on_done = (
                    make_collector(settings, engine, now=clock)
                    if kind.startswith("collector")
                    else make_on_done(settings, now=clock)
                )
                start = time.perf_counter()
                report = await collect_operations(
                    engine, client, settings, now=clock, limit=n_ops, on_done=on_done
                )
                return time.perf_counter() - start, report

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


@pytest.mark.timeout(1800)  # the ini default (300 s) is for unit tests; a loaded machine needs more
def test_payloads_to_companies_one_million(bench_url: str) -> None:
    """Base64 payloads → decode → parse → classify → COPY (`ingest_pages`, the path `collect_results` takes on
    PostgreSQL) → `dedupe_companies`; then the per-operation cost of the production collect round."""
    settings = Settings(_env_file=None, database_url=bench_url)  # type: ignore[call-arg]
    filt = DomainFilter.from_settings(settings)
    engine = make_engine(bench_url)
    steps: dict[str, Step] = {}
    load_before = os.getloadavg()
    print(f"\nload average before the run (1/5/15 min, {os.cpu_count()} cores): {load_before}")
    try:
        operations = generate_operations(N_RESULTS)
        clear_caches()
        gc.collect()
        with Step() as steps["decode"]:
            payloads = [Payload(op.id, op.result_bytes()) for op in operations]
        with Step() as steps["load"], Session(engine) as session, session.begin():
            before = _backend_cpu(session)
            report = ingest_pages(session, settings, payloads, now=T0, domain_filter=filt)
            steps["load"].server_from(session, before)
        del payloads, operations
        stored = report.results
        assert not report.rejected and report.path == "copy" and report.chunks_upserted == 0, report.rejected
        created = sum(r.companies_created for r in report.reports.values())

        expected_duplicates = _add_stale_and_name_only(engine)
        with Step() as steps["dedupe"], Session(engine) as session, session.begin():
            before = _backend_cpu(session)
            dedupe = dedupe_companies(session, settings)
            steps["dedupe"].server_from(session, before)
        assert dedupe.marked_duplicate == expected_duplicates, dedupe
        with engine.connect() as conn:
            repeated = conn.scalar(
                text(
                    "SELECT count(*) - count(DISTINCT canonical_domain) FROM companies "
                    "WHERE status <> 'duplicate' AND canonical_domain IS NOT NULL"
                )
            )
            results = conn.scalar(text("SELECT count(*) FROM serp_results"))
        assert repeated == 0 and results == stored
    finally:
        engine.dispose()

    # Alternated, so both kinds see the same machine: collector, per-page, collector, per-page.
    rounds: dict[str, list[tuple[float, CollectReport]]] = {"collector": [], "per_page": []}
    for kind in ("collector", "per_page", "collector", "per_page"):
        rounds[kind].append(_round(bench_url, f"{kind}{len(rounds[kind])}", ROUND_OPERATIONS))
    total = steps["decode"].wall + steps["load"].wall + steps["dedupe"].wall
    cpu = sum(step.client + step.workers + step.server for step in steps.values())
    per_million = total * 1_000_000 / stored
    print()
    print(
        "| step | wall s | client CPU s | worker processes CPU s | Postgres backend CPU s | results/s (wall) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, step in (
        (f"decode rawData (`Operation.result_bytes`, {len(report.reports):,} payloads)", steps["decode"]),
        (f"parse + classify + COPY, `ingest_pages` ({stored:,} results, {created:,} companies, "
         f"{report.chunks_copied} chunks COPYed)", steps["load"]),
        (f"dedupe_companies ({dedupe.companies:,} companies, {dedupe.marked_duplicate:,} marked)", steps["dedupe"]),
    ):  # fmt: skip
        print(f"| {label} | {step.wall:.1f} | {step.client:.1f} | {step.workers:.1f} | {step.server:.1f} | "
              f"{stored / step.wall:,.0f} |")  # fmt: skip
    print(f"| **total** | **{total:.1f}** | {cpu:.1f} CPU s in all | | | {stored / total:,.0f} |")
    print(
        f"CPU seconds over {os.cpu_count()} cores: {cpu / (os.cpu_count() or 1):.1f} s, the wall floor of this work"
    )
    per_op: dict[str, float] = {}
    for kind, runs in rounds.items():
        for wall, collected in runs:
            print(f"collect round ({kind}): {collected.done} operations, {collected.results:,} results in "
                  f"{wall:.2f} s: {1000 * wall / max(collected.done, 1):.1f} ms per operation")  # fmt: skip
            assert collected.done == ROUND_OPERATIONS and not collected.errors, collected
        per_op[kind] = 1000 * sum(w for w, _ in runs) / sum(c.done for _, c in runs)
    print(f"repeated domains among kept companies: {repeated}")
    load_after = os.getloadavg()
    print(f"load average after the run (1/5/15 min, {os.cpu_count()} cores): {load_after}")

    facts = {"results": stored, "load_average_before": [round(x, 2) for x in load_before]}
    record_figure(
        "serp.payloads_to_companies", round(per_million, 1), unit="s per 1,000,000 results", target=60,
        comparison="<", path="base64 payloads → ingest_pages (the COPY path collect_results takes on PostgreSQL) "
        "→ dedupe_companies",
        wall_seconds=round(total, 1), decode_seconds=round(steps["decode"].wall, 1),
        decode_cpu_seconds=round(steps["decode"].client, 1), ingest_seconds=round(steps["load"].wall, 1),
        dedupe_seconds=round(steps["dedupe"].wall, 1), client_cpu_seconds=round(steps["load"].client, 1),
        worker_cpu_seconds=round(steps["load"].workers, 1), postgres_cpu_seconds=round(steps["load"].server, 1),
        dedupe_cpu_seconds=round(steps["dedupe"].client + steps["dedupe"].server, 1), cpu_seconds=round(cpu, 1),
        command=COMMAND, **facts,
    )  # fmt: skip
    results_per_op = sum(c.results for _, c in rounds["collector"]) / sum(
        c.done for _, c in rounds["collector"]
    )
    record_figure(
        "serp.collect_round_per_operation", round(per_op["collector"], 2), unit="ms per operation",
        target=round(per_op["per_page"], 2), comparison="<",
        path="collect_operations + make_collector (what tasks/search.py runs: COPY batches on PostgreSQL), "
        "emulator over loopback HTTP; target: the per-page upsert round measured alternately in the same run",
        per_page_upsert_ms=round(per_op["per_page"], 2), operations=ROUND_OPERATIONS,
        results_per_operation=round(results_per_op, 1), command=COMMAND, **facts,
    )  # fmt: skip
    assert per_million < 60, f"{per_million:.1f} s per million results (target 60 s)"
    assert per_op["collector"] < per_op["per_page"], per_op
