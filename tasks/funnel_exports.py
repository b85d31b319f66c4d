"""Tasks of the report flow: the funnel of a batch, where the outbox stands, and the CSV exports."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leadgen.db.engine import read_scope
from leadgen.exports import export_contacts, export_domains
from leadgen.outbox_counts import outbox_counts
from leadgen.pipeline_stats import funnel
from tasks.policy import retry_options
from tasks.runtime import jsonable, load_settings, open_engine


@task(name="funnel", cache_policy=NO_CACHE, **retry_options())
def funnel_task(batch_tag: str | None = None) -> dict[str, Any]:
    """Stage counts (queries → operations → results → companies → contacts → messages) of one batch or all."""
    settings = load_settings()
    with open_engine(settings) as engine, read_scope(engine) as session:
        return dict(jsonable(funnel(session, batch_tag=batch_tag)))


@task(name="outbox-counts", cache_policy=NO_CACHE, **retry_options())
def outbox_task() -> dict[str, Any]:
    """Rows of this campaign queued, in `sending`, `unknown` and settled by evidence (leadgen.outbox_counts)."""
    settings = load_settings()
    with open_engine(settings) as engine, read_scope(engine) as session:
        return dict(jsonable(outbox_counts(session, campaign=settings.outreach_campaign)))


@task(name="export-csv", cache_policy=NO_CACHE, **retry_options())
def export_csv_task(batch_tag: str | None = None) -> dict[str, Any]:
    """Write domains.csv and contacts.csv under DATA_DIR/exports; returns the paths and row counts."""
    settings = load_settings()
    folder = settings.data_dir / "exports" / (batch_tag or "all")
    folder.mkdir(parents=True, exist_ok=True)
    with open_engine(settings) as engine, read_scope(engine) as session:
        domains = export_domains(session, folder / "domains.csv", batch_tag=batch_tag)
        contacts = export_contacts(session, folder / "contacts.csv", batch_tag=batch_tag)
    return {"folder": str(folder), "domains": domains, "contacts": contacts}
