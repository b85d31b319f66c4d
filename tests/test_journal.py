"""The run journal on SQLite and Postgres: rows per stage run, failures, abandoned rows, the daily_runs view and
`leadgen report --runs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from leadgen.cli import app
from leadgen.clock import ManualClock
from leadgen.db.engine import write_scope
from leadgen.db.models import JobStatus, ProcessingJob
from leadgen.errors import YandexUnavailable
from leadgen.journal import ABANDONED, counts, journaled, mark_abandoned, start_job

T = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


def jobs(engine: Engine) -> list[ProcessingJob]:
    with write_scope(engine) as session:
        rows = session.scalars(select(ProcessingJob).order_by(ProcessingJob.id)).all()
        session.expunge_all()
        return list(rows)


def test_counts_keep_the_numbers_of_a_nested_result() -> None:
    result = {
        "in_window": True,
        "search": {"submitted": 4, "done": 3, "ended": "window closed"},
        "enrich": {"processed": 2, "rate": 0.5},
        "next_window_start": "2026-11-21T22:00:00+00:00",
        "routes": [{"read": 1}],
        "exported": None,
    }
    assert counts(result) == {
        "in_window": 1,
        "search.submitted": 4,
        "search.done": 3,
        "enrich.processed": 2,
        "enrich.rate": 0.5,
    }
    assert counts(None) == {}


def test_a_block_leaves_a_completed_row_with_counts_and_duration(engine: Engine) -> None:
    clock = ManualClock(T)
    with journaled(engine, "night", clock=clock, batch_tag="spb-2026-11", flow_run_id="f-1") as run:
        clock.advance(minutes=90)
        run.result = {"search": {"submitted": 42, "done": 40, "still_pending": 2}, "note": "text"}

    (job,) = jobs(engine)
    assert (job.stage, job.batch_tag, job.flow_run_id, job.status) == (
        "night",
        "spb-2026-11",
        "f-1",
        JobStatus.COMPLETED,
    )
    assert job.started_at == T and job.finished_at == T + timedelta(minutes=90)
    assert job.stats == {"search.submitted": 42, "search.done": 40, "search.still_pending": 2}
    assert job.error is None


def test_a_failing_block_leaves_a_failed_row_with_the_first_line_of_the_error(engine: Engine) -> None:
    clock = ManualClock(T)
    with pytest.raises(YandexUnavailable), journaled(engine, "night-search", clock=clock):
        clock.advance(seconds=3)
        raise YandexUnavailable("503 Service Unavailable\n<html>upstream body</html>", status=503)

    (job,) = jobs(engine)
    assert job.status == JobStatus.FAILED
    assert job.error == "YandexUnavailable: 503 Service Unavailable"
    assert job.finished_at == T + timedelta(seconds=3)


def test_rows_left_running_by_a_killed_process_are_marked_abandoned(engine: Engine) -> None:
    killed = start_job(engine, "night", now=T)
    recent = start_job(engine, "collect-results", now=T + timedelta(hours=20))

    assert mark_abandoned(engine, now=T + timedelta(hours=23)) == 0
    start_job(engine, "night", now=T + timedelta(hours=25))  # the next run cleans up

    by_id = {j.id: j for j in jobs(engine)}
    assert by_id[killed].status == JobStatus.FAILED and by_id[killed].error == ABANDONED
    assert by_id[recent].status == JobStatus.RUNNING
    assert len(by_id) == 3


def seed_runs(engine: Engine) -> None:
    clock = ManualClock(T)
    for stage, minutes, fail in (("night", 30, False), ("night", 10, True), ("report", 1, False)):
        try:
            with journaled(engine, stage, clock=clock, batch_tag="b1") as run:
                clock.advance(minutes=minutes)
                if fail:
                    raise RuntimeError("database is locked [sqlite]\ntraceback here")
                run.result = {"sent": 3, "failed": 0}
        except RuntimeError:
            pass
    clock.advance(days=1)
    start_job(engine, "night", now=clock())  # a run still going the next day


def test_daily_runs_view_counts_runs_per_day_and_stage(engine: Engine) -> None:
    seed_runs(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT day, stage, runs, completed, failed, running, total_seconds FROM daily_runs "
                "ORDER BY day, stage"
            )
        ).all()
    table = [(str(r[0]), r[1], r[2], r[3], r[4], r[5], round(float(r[6]))) for r in rows]
    assert table == [
        ("2026-11-20", "night", 2, 1, 1, 0, 2400),
        ("2026-11-20", "report", 1, 1, 0, 0, 60),
        ("2026-11-21", "night", 1, 0, 0, 1, 0),
    ]


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    seed_runs(engine)
    return db_url


def test_report_runs_prints_one_line_per_run_newest_first(cli_db: str) -> None:
    result = CliRunner().invoke(app, ["report", "--runs", "--last", "3"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("2026-11-21 22:41:00") and "night" in lines[0] and "running" in lines[0]
    assert "report  batch=b1  60.0s  completed  sent=3 failed=0" in lines[1]
    assert "night  batch=b1  600.0s  failed" in lines[2]
    assert lines[2].endswith("error: RuntimeError: database is locked [sqlite]")


def test_report_json_includes_the_runs(cli_db: str) -> None:
    result = CliRunner().invoke(app, ["report", "--json", "--last", "2"])

    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert [(r["stage"], r["status"]) for r in runs] == [("night", "running"), ("report", "completed")]
    assert runs[1]["stats"] == {"sent": 3, "failed": 0} and runs[1]["duration_seconds"] == 60.0


def test_report_runs_on_an_empty_journal(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["report", "--runs"])
    assert result.exit_code == 0 and result.output.strip() == "runs: none recorded"
