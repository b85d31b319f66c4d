"""Saved Yandex XML pages (tests/fixtures/serp) shared by the SERP tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "serp"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def serp_fixture() -> type[Path]:
    return Path
