"""Planning task: read NICHES_INPUT, plan one batch of queries into the night window, write statuses back."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.planning.run import run_planning
from tasks import runtime
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="plan-batch", cache_policy=NO_CACHE, **retry_options())
def plan_batch_task(
    batch_tag: str | None, source: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Validate the rows, insert their queries (`pending`, night window), write row statuses to the Sheet."""
    settings = load_settings()
    with open_engine(settings) as engine:
        report, written = run_planning(
            engine, settings, source=source, batch_tag=batch_tag, now=runtime.now(), dry_run=dry_run
        )
    return {**jsonable(report), "written_back": written}
