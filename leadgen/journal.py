"""The run journal: one `processing_jobs` row per stage run (flow or CLI) with its counts, status and error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from leadgen.clock import Clock
from leadgen.db.engine import write_scope
from leadgen.db.models import JobStatus, ProcessingJob

# A row still `running` after this long belongs to a process that was killed (a night run lasts at most ~12 h);
# the next journaled run marks it failed with ABANDONED.
ABANDONED_AFTER = timedelta(hours=24)
ABANDONED = "abandoned: still running after 24 h (the process was killed or lost)"
ERROR_LIMIT = 500


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, cut to ERROR_LIMIT characters."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line[:ERROR_LIMIT]


def counts(result: Any, prefix: str = "") -> dict[str, int | float]:
    """The numbers of a stage's result (nested dicts flattened to `outer.inner` keys; text, lists and None
    left out), as a plain JSON-safe dict."""
    found: dict[str, int | float] = {}
    if not isinstance(result, Mapping):
        return found
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            found[name] = int(value)
        elif isinstance(value, int | float):
            found[name] = value
        elif isinstance(value, Mapping):
            found.update(counts(value, f"{name}."))
    return found


def mark_abandoned(engine: Engine, *, now: datetime, older_than: timedelta = ABANDONED_AFTER) -> int:
    """Mark `running` rows started before `now - older_than` as failed (abandoned); returns how many."""
    with write_scope(engine) as session:
        result = session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.status == JobStatus.RUNNING, ProcessingJob.started_at < now - older_than)
            .values(status=JobStatus.FAILED, finished_at=now, error=ABANDONED)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def start_job(
    engine: Engine, stage: str, *, batch_tag: str | None = None, flow_run_id: str | None = None, now: datetime
) -> int:
    """Insert a `running` row for this stage run (after marking abandoned ones) and return its id."""
    mark_abandoned(engine, now=now)
    with write_scope(engine) as session:
        job = ProcessingJob(
            stage=stage,
            batch_tag=batch_tag,
            flow_run_id=flow_run_id,
            status=JobStatus.RUNNING,
            started_at=now,
        )
        session.add(job)
        session.flush()
        return job.id


def finish_job(
    engine: Engine,
    job_id: int,
    *,
    status: JobStatus,
    stats: Mapping[str, Any] | None = None,
    error: str | None = None,
    now: datetime,
) -> None:
    """Close the row: status, finish time, counts and the one-line error of a failure."""
    with write_scope(engine) as session:
        session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.id == job_id)
            .values(status=status, finished_at=now, stats=dict(stats or {}), error=error)
        )


@dataclass
class JobRun:
    """The open journal row of a running stage; set `result` to have its numbers recorded as the counts."""

    id: int
    result: Any = None
    stats: dict[str, Any] = field(default_factory=dict)


@contextmanager
def journaled(
    engine: Engine, stage: str, *, clock: Clock, batch_tag: str | None = None, flow_run_id: str | None = None
) -> Iterator[JobRun]:
    """Journal the block as one stage run: `completed` with the counts of `run.result`, or `failed` with the
    exception's first line (the exception propagates)."""
    run = JobRun(start_job(engine, stage, batch_tag=batch_tag, flow_run_id=flow_run_id, now=clock()))
    try:
        yield run
    except BaseException as exc:
        finish_job(engine, run.id, status=JobStatus.FAILED, stats=run.stats, error=one_line(exc), now=clock())
        raise
    finish_job(engine, run.id, status=JobStatus.COMPLETED, stats=run.stats or counts(run.result), now=clock())
