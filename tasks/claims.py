"""Claim owners on the Prefect side: the running flow run as owner, and `owner_alive` asking the Prefect API.

Tasks record `current_owner()` with their claims (the flow run id and the process, leadgen.owners) and, at the
start of an enrich or send run, release the claims of owners that are gone (`release_companies`,
`release_messages`). A flow run is gone when the API reports it final (COMPLETED, FAILED, CRASHED, CANCELLED)
or does not know it; when the API cannot be asked, the answer is None and the stale timeout decides.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from leadgen.contacts.orphans import release_orphaned_companies
from leadgen.outreach.orphans import release_orphaned_messages
from leadgen.outreach.outbox import Recovered
from leadgen.owners import owner_alive as judge_owner
from leadgen.owners import process_owner
from tasks import runtime
from tasks.runtime import jsonable, load_settings, open_engine

log = logging.getLogger(__name__)
FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


def current_owner() -> str:
    """This claim's owner: the flow run (when inside one) and this process."""
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return process_owner(flow_run=str(run_id) if run_id else None)


def flow_run_alive(flow_run_id: str) -> bool | None:
    """False when the Prefect API reports the flow run final or unknown, True when it is not final, None when
    the API cannot be asked (unset, down, an id that is not a UUID)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        run_uuid = UUID(flow_run_id)
    except ValueError:
        return None
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_uuid)
    except ObjectNotFound:
        return False
    except Exception as exc:  # the API is down or refuses: cannot tell, the stale timeout decides
        log.warning("cannot ask the Prefect API about flow run %s: %s", flow_run_id, type(exc).__name__)
        return None
    state = run.state.type.value if run.state is not None else None
    return state not in FINAL if state is not None else None


def owner_alive(owner: str) -> bool | None:
    """leadgen.owners.owner_alive with the Prefect API's answer for flow-run owners."""
    return judge_owner(owner, flow_run_alive=flow_run_alive)


def release_messages(engine: Engine, batch_tag: str | None = None) -> Recovered:
    """Rows in `sending` (of the batch, if given) whose owner is gone, released by the checkpoint rule
    (requeued or unknown)."""
    return release_orphaned_messages(engine, owner_alive=owner_alive, now=runtime.now(), batch_tag=batch_tag)


@task(name="release-company-claims", cache_policy=NO_CACHE)
def release_company_claims(batch_tag: str | None = None) -> dict[str, Any]:
    """Companies (of the batch, if given) left in `enriching` by a run that is gone (at once) or by a stale
    claim, back to `new`."""
    settings = load_settings()
    with open_engine(settings) as engine:
        released = release_orphaned_companies(
            engine, owner_alive=owner_alive, now=runtime.now(), batch_tag=batch_tag
        )
    return dict(jsonable(released))
