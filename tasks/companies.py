"""Company task: resolve duplicates among the companies found so far."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.companies import dedupe_companies
from leadgen.db.engine import write_scope
from tasks import runtime
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="dedupe-companies", cache_policy=NO_CACHE, **retry_options())
def dedupe_companies_task() -> dict[str, Any]:
    """One pass of dedupe over every company (idempotent: a second pass changes nothing)."""
    settings = load_settings()
    with open_engine(settings) as engine, write_scope(engine) as session:
        return dict(jsonable(dedupe_companies(session, settings, now=runtime.current_clock())))
