"""Enrichment task: crawl a batch of new companies' sites and store their contacts."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from leadgen.contacts import enrich_companies
from tasks import runtime
from tasks.claims import current_owner
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="enrich-companies", cache_policy=NO_CACHE, **retry_options())
def enrich_batch(
    limit: int, company_ids: list[int] | None = None, batch_tag: str | None = None
) -> dict[str, Any]:
    """Claim up to `limit` companies with status `new` (or exactly `company_ids`; only the batch's, if given),
    crawl them, store contacts."""
    settings = load_settings()
    with open_engine(settings) as engine:
        report = run_coro_as_sync(
            enrich_companies(
                engine,
                settings,
                limit=limit,
                company_ids=company_ids,
                batch_tag=batch_tag,
                now=runtime.current_clock(),
                sleep=runtime.crawl_sleep,
                monotonic=runtime.crawl_monotonic,
                owner=current_owner(),
            )
        )
    return dict(jsonable(report))
