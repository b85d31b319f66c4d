"""`leadgen infra cache ...`: show and clear the task cache (persisted results of the cached tasks)."""

from __future__ import annotations

from typing import Annotated

import typer

from leadgen.cli.context import get_settings, out_console

app = typer.Typer(
    help="The task cache: LLM answers and MX lookups that flow runs reuse (docs/operations.md).",
    no_args_is_help=True,
)


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


@app.command()
def show(ctx: typer.Context) -> None:
    """Where the cache is, and its records and size per kind."""
    from tasks.cache import cache_usage, storage_path

    settings = get_settings(ctx)
    out_console.print(f"task cache: {storage_path(settings)}", soft_wrap=True)
    for usage in cache_usage(settings):
        out_console.print(f"{usage.kind:<4} {_records(usage.records):<14} {usage.size_bytes:,} bytes")


@app.command()
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
