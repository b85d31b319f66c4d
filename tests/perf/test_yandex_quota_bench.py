"""Yandex throughput against the quota (issue 21): two workers share YANDEX_RPS through the Prefect global limits.

A real `prefect server start` (SQLite) holds the bootstrapped limits; two worker processes
(`tests/perf/yandex_quota_worker.py`) create searches as fast as the production client lets them against the
sandbox's Yandex emulator (a real HTTP server, its own quota at YANDEX_RPS). The emulator's timestamps of the
accepted creates give the sustained rate over a window of LEADGEN_BENCH_QUOTA_SECONDS (default 30) and the
largest count in any one-second window. Targets: rate >= 0.9 x YANDEX_RPS, never more than YANDEX_RPS in a second,
no 429. Run: `PYTHONPATH=. pytest tests/perf/test_yandex_quota_bench.py -p no:cacheprovider -o addopts="" -s`.
"""

from __future__ import annotations

import bisect
import os
import subprocess
import sys
import time
from pathlib import Path
from subprocess import PIPE

import pytest

pytest.importorskip("prefect")

from infra.bootstrap import bootstrap
from leadgen.settings import Settings
from leadgen_sandbox.stack import settings_env
from leadgen_sandbox.yandex_emulator import EmulatorConfig, RecordedRequest, YandexEmulator
from tests.orchestration.server import prefect_server_process
from tests.perf.recording import assert_met, record_figure

ROOT = Path(__file__).resolve().parents[2]
RPS = int(os.environ.get("LEADGEN_BENCH_QUOTA_RPS", "10"))
WINDOW = float(os.environ.get("LEADGEN_BENCH_QUOTA_SECONDS", "30"))
WORKERS = 2
WARMUP = 2.0  # seconds after the common start left out of the window (first grants, connections)
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_yandex_quota_bench.py -p no:cacheprovider -o addopts="" -s'
PATH = (
    "YandexClient.create_search through tasks.search.yandex_client (GlobalQuotaLimiter: the yandex-search and "
    "yandex-search-hourly global limits on a real Prefect server), 2 worker processes, loopback emulator"
)


def max_in_one_second(times: list[float]) -> int:
    """The largest number of timestamps in any half-open window [t, t + 1 s)."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def busiest_second(creates: list[RecordedRequest]) -> list[str]:
    """The creates of the busiest one-second window as `offset ms worker/status`, to tell whose they were."""
    ordered = sorted(creates, key=lambda r: r.at)
    times = [r.at.timestamp() for r in ordered]
    if not times:
        return []
    i = max(range(len(times)), key=lambda k: bisect.bisect_left(times, times[k] + 1.0) - k)
    window = ordered[i : bisect.bisect_left(times, times[i] + 1.0)]
    worker = lambda r: str((r.body or {}).get("query", {}).get("queryText", "?")).split()[1:2]  # noqa: E731
    return [f"{(r.at.timestamp() - times[i]) * 1000:.0f} {'/'.join(worker(r))}/{r.status}" for r in window]


def _settings(emu: YandexEmulator) -> dict[str, object]:
    return {
        **emu.settings_overrides(auth="api_key"),
        "night_window": "00:00-23:59",
        "night_window_allow_daytime": True,
        "yandex_rps": RPS,
    }


@pytest.mark.timeout(600)
def test_two_workers_reach_the_quota_and_never_pass_it(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        prefect_server_process(tmp_path / "prefect") as server,
        temporary_settings(updates={PREFECT_API_URL: server.api_url}),
        YandexEmulator(EmulatorConfig(rps=RPS)) as emu,
    ):
        overrides = _settings(emu)
        bootstrap(Settings(_env_file=None, **overrides), pool_type="process", pool_name="bench")  # type: ignore[arg-type]
        env = server.env(**settings_env(overrides), PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "tests.perf.yandex_quota_worker"]
        procs = [
            subprocess.Popen(
                [*command, f"w{i}"], env=env, cwd=ROOT, text=True, stdin=PIPE, stdout=PIPE, stderr=PIPE
            )
            for i in range(WORKERS)
        ]
        for proc in procs:  # imported and connected to the server: the run starts when every worker is
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        begin = time.time() + 0.5
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{begin} {begin + WARMUP + WINDOW + 1.0}\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=WINDOW + 120) for proc in procs]
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err[-3000:]
        creates = emu.recorded("create")
    arrived = [r.at.timestamp() for r in creates]  # every create the server saw, accepted or not
    rejected = sum(1 for r in creates if r.status == 429)
    begin += WARMUP
    in_window = sum(1 for r in creates if r.status == 200 and begin <= r.at.timestamp() < begin + WINDOW)
    rate = in_window / WINDOW
    per_worker = [out.strip() for out, _ in outputs]  # "created grants dropped" per worker
    facts = {"rps": RPS, "window_s": WINDOW, "workers": WORKERS, "per_worker": per_worker, "command": COMMAND}
    pace = record_figure(
        "yandex quota pace",
        round(rate / RPS, 3),
        unit="x YANDEX_RPS",
        target=0.9,
        comparison=">=",
        path=PATH,
        rate_per_s=round(rate, 2),
        **facts,
    )
    ceiling = record_figure(
        "yandex quota ceiling",
        max_in_one_second(arrived),
        unit="requests in any 1 s window",
        target=RPS,
        comparison="<=",
        path=PATH,
        rejected_429=rejected,
        busiest_second=busiest_second(creates),
        **facts,
    )
    assert rejected == 0, f"{rejected} creates answered 429 by the emulator"
    assert_met(ceiling)
    assert_met(pace)
