"""Fixtures for the Yandex client tests: a manual clock inside the Moscow night, settings, an emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from leadgen.clock import ManualClock
from leadgen.settings import Settings
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator

NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 01:00 Europe/Moscow
DAY = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 12:00 Europe/Moscow
API = "https://searchapi.test"
OPS = "https://operation.test"
IAM = "https://iam.test/iam/v1/tokens"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NIGHT)


def make_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "yandex_search_api_url": API,
        "yandex_operation_api_url": OPS,
        "yandex_iam_url": IAM,
        "yandex_folder_id": "b1gtestfolder",
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg,arg-type]


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[YandexEmulator]:
    with YandexEmulator(EmulatorConfig(clock=clock, time_to_done=300)) as emu:
        yield emu


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio through the anyio pytest plugin (`pytestmark = pytest.mark.anyio`)."""
    return "asyncio"


@pytest.fixture
def yclock() -> ManualClock:
    """A manual clock at 01:00 Moscow, inside the night window."""
    return ManualClock(NIGHT)
