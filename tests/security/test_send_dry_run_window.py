"""`send --dry-run` reports the send window as it is (issue 22): closed on a Sunday night, open on a weekday."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from leadgen.outreach.offer import load_offer
from leadgen.outreach.sending import send_queued
from leadgen.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("now", "is_open", "next_start"),
    [
        (datetime(2026, 11, 22, 20, 0, tzinfo=UTC), False, "2026-11-23T09:00:00+03:00"),  # Sunday 23:00 MSK
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), True, None),  # Tuesday 12:00 MSK
    ],
)
def test_dry_run_reports_the_window(
    engine: Engine, tmp_path: Path, now: datetime, is_open: bool, next_start: str | None
) -> None:
    (tmp_path / "outbox").mkdir()
    settings = Settings(_env_file=None, outreach_dry_run_dir=tmp_path / "outbox")  # type: ignore[call-arg]
    offer = load_offer(ROOT / "offer.example.toml")
    report = send_queued(engine, settings, limit=10, now=now, dry_run=True, offer=offer)
    assert report.dry_run and report.window_open is is_open
    if next_start is None:
        assert report.next_window_start is None
    else:
        assert datetime.fromisoformat(report.next_window_start or "") == datetime.fromisoformat(next_start)
