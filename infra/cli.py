"""`leadgen infra ...`: bootstrap the Prefect side (work pool, concurrency limits, variables, alerts); the task cache.

Added to the CLI lazily (leadgen/cli/lazy.py): the CLI never imports the orchestration layer, this module imports the
CLI's consoles. Prefect, `infra.bootstrap` and `tasks` are imported when a command runs, not by `--help`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from leadgen.cli.context import err_console, get_settings, out_console

app = typer.Typer(
    help="Prefect side: create or update the work pool, concurrency limits, variables and alert automations.",
    no_args_is_help=True,
    add_completion=False,
)
cache_app = typer.Typer(
    help="The task cache: LLM answers and MX lookups that flow runs reuse (docs/operations.md).",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


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
    # Imported here: `leadgen infra --help` loads no Prefect.
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


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


@cache_app.command()
def show(ctx: typer.Context) -> None:
    """Where the cache is, and its records and size per kind."""
    from tasks.cache import cache_usage, storage_path

    settings = get_settings(ctx)
    out_console.print(f"task cache: {storage_path(settings)}", soft_wrap=True)
    for usage in cache_usage(settings):
        out_console.print(f"{usage.kind:<4} {_records(usage.records):<14} {usage.size_bytes:,} bytes")


@cache_app.command()
def clear(
    ctx: typer.Context,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Clear only this kind: llm or mx (repeatable; default: all)."),
    ] = None,
) -> None:
    """Delete cached records, so the next runs ask the LLM and DNS again. Safe while flows run."""
    from tasks.cache import KINDS, clear_cache, storage_path

    kinds = tuple(k.strip().lower() for k in kind or KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise typer.BadParameter(
            f"unknown cache kind {unknown[0]!r}: choose from {', '.join(KINDS)}", param_hint="--kind"
        )
    settings = get_settings(ctx)
    removed = clear_cache(settings, kinds)
    out_console.print(
        f"{_records(removed)} deleted ({', '.join(kinds)}) from {storage_path(settings)}", soft_wrap=True
    )
