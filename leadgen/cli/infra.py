"""`leadgen infra ...`: bootstrap the Prefect side (work pool, concurrency limits, variables, alerts); the task cache."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from leadgen.cli import cache as cache_cli
from leadgen.cli.context import err_console, get_settings, out_console

app = typer.Typer(
    help="Prefect side: create or update the work pool, concurrency limits, variables and alert automations.",
    no_args_is_help=True,
)
app.add_typer(cache_cli.app, name="cache")


@app.command()
def bootstrap(
    ctx: typer.Context,
    pool_type: Annotated[
        str,
        typer.Option(
            "--pool-type", help="Work pool type: docker (production) or process (no Docker engine)."
        ),
    ] = "docker",
    pool_name: Annotated[
        str | None, typer.Option("--pool-name", help="Work pool name (default: PREFECT_WORK_POOL).")
    ] = None,
    reset_variables: Annotated[
        bool,
        typer.Option("--reset-variables", help="Overwrite variables changed in the UI with the defaults."),
    ] = False,
) -> None:
    """Create or update everything the flows need on the Prefect API at PREFECT_API_URL. Safe to re-run."""
    if pool_type not in ("docker", "process"):
        raise typer.BadParameter("expected docker or process", param_hint="--pool-type")
    # Imported here: the leadgen package never imports Prefect at module level.
    from infra.bootstrap import bootstrap as run_bootstrap

    settings = get_settings(ctx)
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    report = run_bootstrap(
        settings, pool_type=pool_type, pool_name=pool_name, reset_variables=reset_variables
    )
    if report.api_url is None:
        err_console.print(
            "warning: PREFECT_API_URL is not set; bootstrapped the local ephemeral Prefect database instead"
        )
    width = max((len(action.name) for action in report.actions), default=24)
    for action in report.actions:
        out_console.print(
            f"{action.kind:<18} {action.name:<{width}} {action.outcome:<9} {action.detail}", soft_wrap=True
        )
    out_console.print(f"{report.changed} changed, {len(report.actions) - report.changed} already in place")
