"""The quota acceptance test: 1000 creates through the client against the emulator, never above 10 per second."""

from __future__ import annotations

import pytest

from leadgen.clock import ManualClock, utc_now
from leadgen.settings import Settings
from leadgen.yandex import SearchRequest, YandexClient
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator
from tests.yandex.test_limiter import max_in_window

pytestmark = pytest.mark.anyio


async def test_thousand_creates_stay_under_ten_per_second(clock: ManualClock) -> None:
    """Client and emulator share a manual clock; the limiter's waits advance it, so this runs in seconds."""
    start = clock()
    with YandexEmulator(EmulatorConfig(clock=clock, rps=10, rph=35_000)) as emu:
        settings = Settings(_env_file=None, **emu.settings_overrides(auth="api_key"))  # type: ignore[call-arg]
        async with YandexClient.from_settings(settings, clock=clock, sleep=clock.async_sleep) as client:
            for i in range(1000):
                await client.create_search(SearchRequest(f"окна пвх {i}", region="213"))
        creates = emu.recorded("create")
    assert len(creates) == 1000
    assert [r for r in creates if r.status == 429] == []
    assert all(r.status == 200 for r in creates)
    times = [r.at for r in creates]
    assert max_in_window(times, 1.0) == 10
    assert max_in_window(times, 60.0) <= 600
    # 1000 requests at 10/s take at least 99.9 s of (simulated) time, and not much more
    elapsed = (clock() - start).total_seconds()
    assert 99.9 <= elapsed < 105


async def test_real_time_burst_respects_the_limit() -> None:
    """A short check on the real clock and real sleeps: 15 creates at 10 rps take about a second."""
    with YandexEmulator(EmulatorConfig(clock=utc_now, rps=10)) as emu:
        settings = Settings(
            _env_file=None,
            night_window="00:00-23:59",
            night_window_allow_daytime=True,
            **emu.settings_overrides(auth="api_key"),
        )  # type: ignore[call-arg]
        async with YandexClient.from_settings(settings) as client:
            for i in range(15):
                await client.create_search(SearchRequest(f"потолки {i}"))
        creates = emu.recorded("create")
    assert [r.status for r in creates] == [200] * 15
    assert max_in_window([r.at for r in creates], 1.0) <= 10
    assert (creates[-1].at - creates[0].at).total_seconds() >= 1.0
