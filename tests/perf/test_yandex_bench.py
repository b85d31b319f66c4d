"""Benchmark: YandexClient overhead over raw httpx against the emulator, and the 1000-create quota scenario.

Run: `make bench` or `PYTHONPATH=. pytest tests/perf/test_yandex_bench.py -p no:cacheprovider -o addopts="" -s`
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from leadgen.clock import ManualClock
from leadgen.settings import Settings
from leadgen.yandex import SearchRequest, YandexClient
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator
from tests.perf.recording import assert_met, record_figure

N = 500
BODY = SearchRequest("окна пвх", region="213").to_body(folder_id="b1g")
COMMAND = 'PYTHONPATH=. pytest tests/perf/test_yandex_bench.py -p no:cacheprovider -o addopts="" -s'
MAX_CLIENT_OVER_RAW = 5.0  # the client's time per create at most 5x raw httpx's (measured 1.4x)


async def _raw(emu: YandexEmulator) -> float:
    headers = {"Authorization": "Api-Key AQVNsandbox-api-key"}
    async with httpx.AsyncClient(trust_env=False) as http:
        started = time.perf_counter()
        for _ in range(N):
            response = await http.post(f"{emu.url}/v2/web/searchAsync", json=BODY, headers=headers)
            response.raise_for_status()
        return time.perf_counter() - started


async def _client(emu: YandexEmulator) -> float:
    overrides = {
        **emu.settings_overrides(auth="api_key"),
        "night_window": "00:00-23:59",
        "night_window_allow_daytime": True,
    }
    settings = Settings(_env_file=None, yandex_rps=10**6, yandex_rpm=10**7, yandex_rph=10**8, **overrides)  # type: ignore[call-arg]
    async with YandexClient.from_settings(settings) as client:
        started = time.perf_counter()
        for _ in range(N):
            await client.create_search(SearchRequest("окна пвх", region="213"))
        return time.perf_counter() - started


async def _thousand_with_quota() -> tuple[float, float]:
    clock = ManualClock(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    with YandexEmulator(EmulatorConfig(clock=clock, rps=10)) as emu:
        settings = Settings(_env_file=None, **emu.settings_overrides(auth="api_key"))  # type: ignore[call-arg]
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            started, simulated = time.perf_counter(), clock()
            for i in range(1000):
                await client.create_search(SearchRequest(f"окна {i}"))
            return time.perf_counter() - started, (clock() - simulated).total_seconds()


def test_client_overhead_and_quota_scenario() -> None:
    with YandexEmulator(EmulatorConfig(rps=None, rph=None)) as emu:
        asyncio.run(_raw(emu))  # warm-up
        raw = asyncio.run(_raw(emu))
        client = asyncio.run(_client(emu))
    wall, simulated = asyncio.run(_thousand_with_quota())
    print(
        f"\nyandex bench: raw httpx {N / raw:.0f} creates/s, YandexClient {N / client:.0f} creates/s "
        f"(ratio client/raw time {client / raw:.2f}); 1000 creates at 10 rps: {wall:.2f} s wall for "
        f"{simulated:.1f} s simulated"
    )
    overhead = record_figure(
        "YandexClient time over raw httpx",
        round(client / raw, 2),
        unit="x raw time",
        target=MAX_CLIENT_OVER_RAW,
        comparison="<",
        path=f"YandexClient.create_search x {N} (limiter out of the way, credentials, error boundary, Operation "
        "parsing) against raw httpx.AsyncClient.post, one connection, loopback emulator",
        command=COMMAND,
        client_per_s=round(N / client, 1),
        raw_per_s=round(N / raw, 1),
    )
    quota = record_figure(
        "1000 creates at 10 rps (simulated)",
        round(simulated, 1),
        unit="simulated s",
        target=99.0,
        comparison=">=",
        path="YandexClient.create_search x 1000 with the in-process QuotaLimiter at 10 rps on a ManualClock "
        "against the emulator's own 10 rps quota (never faster than the quota)",
        command=COMMAND,
        wall_s=round(wall, 2),
    )
    assert_met(overhead)
    assert_met(quota)
