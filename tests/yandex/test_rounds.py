"""run_night: rounds of submit + collect on a manual clock until nothing is left, the night ends, or a stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from leadgen.clock import ManualClock
from leadgen.db import OperationStatus, QueryStatus
from leadgen.settings import Settings
from leadgen.yandex.rounds import RoundsReport, night_end, run_night, run_rounds
from leadgen.yandex.submit import submit_due_queries
from leadgen_sandbox.yandex_emulator import Faults
from tests.yandex.conftest import NIGHT
from tests.yandex.test_jobs import Recorder, add_queries, operations, queries, stack

pytestmark = pytest.mark.anyio

MORNING = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 08:00 Europe/Moscow, when the default window closes


async def test_rounds_until_nothing_is_left_tonight(engine: Engine, db_url: str, yclock: ManualClock) -> None:
    add_queries(engine, ["окна пвх", "двери"])
    add_queries(engine, ["потолки"], scheduled_for=NIGHT + timedelta(hours=1))
    add_queries(engine, ["завтра"], scheduled_for=MORNING + timedelta(hours=20))  # the next night
    seen: list[RoundsReport] = []
    async with stack(db_url, yclock) as (_emu, client, settings):  # operations are done after 600 s
        report = await run_night(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=MORNING,
            on_done=Recorder(), step_seconds=300, progress=seen.append,
        )  # fmt: skip
    assert report.ended == "nothing left to search tonight" and report.stopped is None
    assert (report.submitted, report.done, report.still_pending) == (3, 3, 0)
    assert report.rounds == len(seen) and [r.rounds for r in seen] == list(range(1, report.rounds + 1))
    # The hour's query was submitted at its time, then polled until done: the loop slept in steps of 300 s.
    assert NIGHT + timedelta(hours=1, seconds=600) <= yclock() < NIGHT + timedelta(hours=1, seconds=1200)
    statuses = sorted(q.status for q in queries(engine).values())
    assert statuses == sorted([QueryStatus.DONE] * 3 + [QueryStatus.PENDING])
    assert all(op.status == OperationStatus.DONE for op in operations(engine))


async def test_stops_when_the_night_ends_with_operations_pending(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх"])
    until = NIGHT + timedelta(minutes=5)  # before the operation is done
    async with stack(db_url, yclock) as (_emu, client, settings):
        report = await run_night(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=until,
            on_done=Recorder(), step_seconds=120,
        )  # fmt: skip
    assert report.ended == f"reached {until.isoformat()}"
    assert (report.submitted, report.done, report.still_pending) == (1, 0, 1)
    assert yclock() == until  # the last wait was cut to the end, not a whole step past it


async def test_a_stopped_round_ends_the_night_for_the_next_run(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх"])
    cfg = {"faults": Faults(rate_429=1.0), "settings": {"yandex_max_retries": 0}}
    async with stack(db_url, yclock, **cfg) as (_emu, client, settings):
        report = await run_night(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=MORNING, on_done=Recorder()
        )
    assert report.rounds == 1 and report.stopped and "QuotaExceeded" in report.stopped
    assert report.ended.startswith("stopped: ") and report.deferred == 1
    assert queries(engine)[1].status == QueryStatus.PENDING


async def test_full_rounds_go_on_at_once_and_submitting_alone_ignores_operations(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх", "двери", "потолки"])
    start = yclock()
    async with stack(db_url, yclock) as (emu, client, settings):
        report = await run_rounds(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=start + timedelta(hours=1),
            submit=True, on_done=None, limit=1, step_seconds=300,
        )  # fmt: skip
    # full rounds of one query each, at once, until no query is due: no wait in between, no poll at all
    assert (report.rounds, report.submitted, report.polled) == (3, 3, 0)
    assert report.ended == "nothing left to search tonight" and report.still_pending == 3
    assert yclock() == start and not emu.recorded("poll")


async def test_collecting_alone_waits_for_operations_until_none_is_pending(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх", "двери"])
    later = NIGHT + timedelta(hours=1)  # never submitted, so not waited for
    add_queries(engine, ["потолки"], scheduled_for=later)
    async with stack(db_url, yclock) as (_emu, client, settings):  # operations are done after 600 s
        assert (await submit_due_queries(engine, client, settings, now=yclock, limit=10)).submitted == 2
        report = await run_rounds(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=MORNING,
            submit=False, on_done=Recorder(), step_seconds=300,
        )  # fmt: skip
    assert report.ended == "nothing left to search tonight" and report.submitted == 0
    assert (report.done, report.still_pending, report.rounds) == (2, 0, 3)  # at 0 s, 300 s (running), 600 s
    assert yclock() == NIGHT + timedelta(seconds=600)
    assert queries(engine)[3].status == QueryStatus.PENDING


async def test_a_deadline_already_reached_still_runs_one_round(
    engine: Engine, db_url: str, yclock: ManualClock
) -> None:
    add_queries(engine, ["окна пвх", "двери"], scheduled_for=NIGHT - timedelta(minutes=1))
    async with stack(db_url, yclock) as (_emu, client, settings):
        report = await run_rounds(
            engine, client, settings, now=yclock, sleep=yclock.async_sleep, until=yclock(),
            submit=True, on_done=None, limit=1,
        )  # fmt: skip
    assert (report.rounds, report.submitted) == (1, 1) and report.ended == f"reached {yclock().isoformat()}"


def test_night_end_is_the_close_of_the_window_in_progress_or_next() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # NIGHT_WINDOW 00:00-07:59 Europe/Moscow
    assert night_end(settings, NIGHT) == MORNING
    assert night_end(settings, MORNING + timedelta(hours=3)) == MORNING + timedelta(days=1)
