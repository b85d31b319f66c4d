"""Planning task: read NICHES_INPUT and plan one batch of queries into the night window."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.db.engine import session_scope
from leadgen.planning import plan_batch, read_niches
from tasks import runtime
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="plan-batch", cache_policy=NO_CACHE, **retry_options())
def plan_batch_task(
    batch_tag: str | None, source: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Validate the input rows and insert their queries (`pending`, scheduled in the night window)."""
    settings = load_settings()
    rows = read_niches(settings, source)
    with open_engine(settings) as engine, session_scope(engine) as session:
        report = plan_batch(session, settings, rows, batch_tag=batch_tag, now=runtime.now(), dry_run=dry_run)
    return dict(jsonable(report))
