"""Release the crawl claims of companies whose run is gone: at once by owner (leadgen.owners), else by age.

A company in `enriching` whose `claimed_by` owner is finished, crashed or gone goes back to `new` at once; one
whose owner cannot be judged goes back after STALE_ENRICHING without an update (the last resort). Enrichment is
idempotent (contacts are upserted), so a claim released by mistake costs a second crawl, never a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, distinct, select, update

from leadgen.contacts.store import STALE_ENRICHING, release_stale
from leadgen.db.batches import company_in_batch
from leadgen.db.engine import read_scope, write_scope
from leadgen.db.models import Company, CompanyStatus
from leadgen.owners import OwnerAlive, memoised

GONE_REASON = "released: the run that claimed it ({owner}) is gone"


@dataclass(frozen=True, slots=True)
class ReleasedCompanies:
    """Companies put back to `new`: their owner gone, or their claim older than the stale timeout."""

    owner_gone: int = 0
    stale: int = 0


def release_orphaned_companies(
    engine: Engine,
    *,
    owner_alive: OwnerAlive,
    now: datetime,
    stale_after: timedelta = STALE_ENRICHING,
    batch_tag: str | None = None,
) -> ReleasedCompanies:
    """Put back to `new` the `enriching` companies whose owner `owner_alive` says is gone (False), then those
    not updated for `stale_after` whatever their owner (alive owners update a company when they finish it).
    With `batch_tag`, only companies of that batch (leadgen.db.batches)."""
    in_batch = company_in_batch(batch_tag)
    ask = memoised(owner_alive)
    with read_scope(engine) as session:
        owners = session.scalars(
            select(distinct(Company.claimed_by)).where(
                Company.status == CompanyStatus.ENRICHING, Company.claimed_by.is_not(None), in_batch
            )
        ).all()
    gone = sorted(o for o in owners if o and ask(o) is False)
    released = 0
    for owner in gone:
        with write_scope(engine) as session:
            released += session.execute(
                update(Company)
                .where(Company.status == CompanyStatus.ENRICHING, Company.claimed_by == owner, in_batch)
                .values(
                    status=CompanyStatus.NEW,
                    status_reason=GONE_REASON.format(owner=owner)[:1000],
                    claimed_by=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
    with write_scope(engine) as session:
        stale = release_stale(session, older_than=now - stale_after, batch_tag=batch_tag)
    return ReleasedCompanies(owner_gone=int(released), stale=stale)
