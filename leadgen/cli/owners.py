"""Who owns a claim, as the CLI judges it: processes from /proc, flow runs through the Prefect API when one is set."""

from __future__ import annotations

from leadgen.owners import owner_alive


def flow_run_alive(flow_run_id: str) -> bool | None:
    """The Prefect API's answer (tasks.claims, loaded only now: leadgen never imports Prefect); None when no
    PREFECT_API_URL is set (an ephemeral API would know nothing of other runs)."""
    from infra.bootstrap import prefect_api_url
    from tasks.claims import flow_run_alive as ask_prefect

    return ask_prefect(flow_run_id) if prefect_api_url() else None


def cli_owner_alive(owner: str) -> bool | None:
    """An owner's process on this host decides without Prefect; a flow-run owner otherwise asks its API."""
    return owner_alive(owner, flow_run_alive=flow_run_alive)
