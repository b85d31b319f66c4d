"""Typed flow parameters: pydantic models the Prefect UI renders as forms (limits, batch_tag, dry_run)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from leadgen.batch_tags import BATCH_TAG_HELP, BATCH_TAG_MAX_CHARS, check_batch_tag

# The one batch-tag rule (the NICHES_INPUT column's), checked by leadgen.batch_tags when a run starts. The form
# only bounds the length: a regex pattern in the schema would be read with another regex dialect by the UI.
BatchTag = Annotated[
    str,
    Field(min_length=1, max_length=BATCH_TAG_MAX_CHARS),
    AfterValidator(check_batch_tag),
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanParams(_Params):
    """plan_batch: which rows to plan and whether to write them."""

    batch_tag: BatchTag | None = Field(
        None, description=f"Plan only rows of this batch (rows without a tag take it); {BATCH_TAG_HELP}"
    )
    source: str | None = Field(None, description="CSV path or Google Sheet id/URL; default NICHES_INPUT")
    dry_run: bool = Field(False, description="Check and schedule, write nothing")


class SearchParams(_Params):
    """night_search: how many due queries to submit."""

    limit: int | None = Field(
        None, ge=1, le=35000, description="Queries to submit; default variable leadgen_search_limit"
    )
    batch_tag: BatchTag | None = Field(None, description=f"Only queries of this batch; {BATCH_TAG_HELP}")


class CollectParams(_Params):
    """collect_results: how many operations to poll, and how long to keep polling."""

    limit: int | None = Field(
        None, ge=1, description="Operations polled per round; default leadgen_search_limit"
    )
    wait_seconds: int = Field(
        0,
        ge=0,
        le=6 * 3600,
        description="Keep polling in rounds until nothing is pending or this time passed",
    )
    batch_tag: BatchTag | None = Field(
        None, description="Only operations of this batch's queries; empty: all"
    )


class NightParams(_Params):
    """night: a whole night of searching in rounds, then dedupe and enrichment of what was found."""

    limit: int | None = Field(
        None,
        ge=1,
        le=35000,
        description="Queries submitted / operations polled per round; default leadgen_search_limit",
    )
    step_seconds: int | None = Field(
        None, ge=10, le=3600, description="Pause between rounds; default YANDEX_POLL_INTERVAL_SECONDS"
    )
    enrich_limit: int = Field(100000, ge=0, le=100000, description="Companies to enrich after the searches")


class EnrichParams(_Params):
    """enrich_contacts: companies to crawl in this run, in batches."""

    limit: int = Field(500, ge=1, le=100000, description="Companies to enrich in this run")
    batch_size: int | None = Field(
        None, ge=1, le=1000, description="Companies per task; default leadgen_batch_size"
    )
    batch_tag: BatchTag | None = Field(None, description="Only companies found by this batch; empty: all")


class OutreachParams(_Params):
    """outreach: drafts, queueing and sending under the daily cap."""

    draft_limit: int = Field(200, ge=0, description="Companies to draft for (0: no drafting)")
    send_limit: int | None = Field(
        None, ge=0, description="Messages to send; default variable leadgen_send_limit"
    )
    dry_run: bool = Field(False, description="Write .eml files instead of sending")
    batch_tag: BatchTag | None = Field(
        None, description="Only companies found by this batch and their messages; empty: all"
    )


class ReportParams(_Params):
    """report: funnel of one batch (or all) and CSV exports."""

    batch_tag: BatchTag | None = Field(None, description="Batch to report on; empty: all")
    export_csv: bool = Field(True, description="Write domains.csv and contacts.csv under DATA_DIR/exports")


class MailboxSyncParams(_Params):
    """mailbox_sync: which routes' mailboxes to read."""

    route: Literal["yandex", "gmail"] | None = Field(
        None, description="Read only this route's mailbox; empty: every configured one"
    )


class PipelineParams(_Params):
    """pipeline: every stage for one batch, ad hoc."""

    batch_tag: BatchTag = Field(..., description=f"The batch to run end to end; {BATCH_TAG_HELP}")
    source: str | None = Field(None, description="CSV path or Google Sheet id/URL; default NICHES_INPUT")
    search_limit: int = Field(500, ge=1, description="Queries to submit")
    collect_wait_seconds: int = Field(
        900, ge=0, le=6 * 3600, description="How long to wait for deferred searches to finish"
    )
    enrich_limit: int = Field(500, ge=1, description="Companies to enrich")
    send_limit: int | None = Field(None, ge=0, description="Messages to send; default leadgen_send_limit")
    dry_run: bool = Field(False, description="Plan and send nothing for real (.eml files instead of email)")
