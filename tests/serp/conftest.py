"""Saved Yandex XML pages (tests/fixtures/serp) shared by the SERP, ingest and dedupe tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "serp"


def fixture_bytes(name: str) -> bytes:
    """The bytes of one saved page."""
    return (FIXTURES / name).read_bytes()
