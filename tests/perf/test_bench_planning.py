"""Planning throughput on SQLite: plan_batch (first plan, re-plan) against a per-query ORM insert baseline.

Run with `make bench` (or pytest tests/perf/test_bench_planning.py -o addopts="" -s); figures go to
docs/performance.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from leadgen.db import SerpQuery, make_engine, migrate
from leadgen.planning import QueryOptions, generate_queries, plan_batch, validate_row
from leadgen.planning.rows import NicheRow
from leadgen.settings import Settings
from tests.perf.recording import assert_met, record_figure

CITIES = ["Москва", "Казань", "Омск", "Томск", "Сочи", "Пермь", "Самара", "Тула", "Уфа", "Курск"]
ROWS = 300
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TARGET_SPEEDUP = 2.0  # plan_batch at least twice the per-query baseline's speed (measured 4.1-5.7x)
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_bench_planning.py -p no:cacheprovider -o addopts="" -s -q'


def _rows() -> list[NicheRow]:
    rows = []
    for i in range(ROWS):
        row = validate_row({"niche": f"услуга номер {i}", "city": CITIES[i % len(CITIES)]}, row_number=i + 2)
        assert isinstance(row, NicheRow)
        rows.append(row)
    return rows


def test_bench_plan_batch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    rows = _rows()

    # baseline: generate, then one ORM add + flush per query (check-free, no ON CONFLICT)
    options = QueryOptions.from_settings(settings)
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        for row in rows:
            for q in generate_queries(row, options):
                session.add(SerpQuery(query_text=q.query_text, region_code=q.region_code, query_hash=q.query_hash,
                                      batch_tag="bench", scheduled_for=NOW))  # fmt: skip
                session.flush()
    baseline = time.perf_counter() - start
    with Session(engine) as session, session.begin():
        session.execute(delete(SerpQuery))

    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        first = plan_batch(session, settings, rows, batch_tag="bench", now=NOW)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        again = plan_batch(session, settings, rows, batch_tag="bench", now=NOW)
    again_s = time.perf_counter() - start
    engine.dispose()

    n = first.generated
    assert first.inserted == n and again.duplicates == n
    print(
        f"\nplanning {ROWS} rows / {n} queries on SQLite: baseline per-query ORM insert {baseline:.3f}s "
        f"({n / baseline:.0f} q/s); plan_batch first {first_s:.3f}s ({n / first_s:.0f} q/s, "
        f"{baseline / first_s:.2f}x baseline speed); re-plan {again_s:.3f}s ({n / again_s:.0f} q/s)"
    )
    entry = record_figure(
        "plan_batch speed over per-query insert",
        round(baseline / first_s, 2),
        unit="x baseline speed",
        target=TARGET_SPEEDUP,
        comparison=">=",
        path=f"plan_batch (set-based generate + schedule + INSERT ON CONFLICT) of {ROWS} rows / {n} queries, "
        "SQLite file, against one ORM add + flush per query",
        command=COMMAND,
        queries=n,
        first_plan_s=round(first_s, 3),
        replan_s=round(again_s, 3),
        baseline_s=round(baseline, 3),
    )
    assert_met(entry)
