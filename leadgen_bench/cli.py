"""`leadgen bench month`: the month-volume run of the whole pipeline in the sandbox, with its figures.

Added to the CLI lazily (leadgen/cli/lazy.py); `--help` imports neither the sandbox nor the database.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadgen.cli.context import err_console, out_console

app = typer.Typer(
    help="Benchmarks run against the loopback sandbox (no credentials, no network).",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("month")
def month(
    days: Annotated[int, typer.Option("--days", min=1, help="Simulated days.")] = 30,
    niches: Annotated[int, typer.Option("--niches", min=1, help="Niches planned (built-in list).")] = 25,
    cities: Annotated[int, typer.Option("--cities", min=1, help="Cities per niche (built-in list).")] = 14,
    queries_per_niche: Annotated[
        int, typer.Option("--queries-per-niche", min=1, max=6, help="Queries per niche and city.")
    ] = 1,
    daily_cap: Annotated[int, typer.Option("--daily-cap", min=1, help="Emails a day.")] = 100,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep the database here (default: a temp dir).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="Use this (empty, migratable) database instead of SQLite in the workdir."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-day progress on stderr.")] = False,
    log_requests: Annotated[
        bool, typer.Option("--log-requests", help="Keep INFO logs (one line per HTTP request).")
    ] = False,
) -> None:
    """Plan, search at night, ingest, dedupe, enrich, draft and send for N simulated days on a manual clock."""
    from leadgen_bench.config import MonthConfig
    from leadgen_bench.month import run_month

    if not log_requests:  # tens of thousands of request lines would cost time and bury the figures
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))

    def progress(line: str) -> None:
        if not quiet:
            err_console.print(line, soft_wrap=True, highlight=False)

    with tempfile.TemporaryDirectory(prefix="leadgen-bench-") as tmp:
        config = MonthConfig(
            workdir=workdir or Path(tmp),
            days=days,
            niches=niches,
            cities=cities,
            queries_per_niche=queries_per_niche,
            daily_cap=daily_cap,
            database_url=database_url,
        )
        report = run_month(config, progress=progress)
    data = asdict(report)
    if as_json:
        out_console.print_json(json.dumps(data, ensure_ascii=False))
        return
    table = Table(title=f"Month-volume run ({days} simulated days)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in data.items():
        if key in ("emails_per_day", "stage_seconds"):
            continue
        table.add_row(key, str(value))
    for key, value in report.stage_seconds.items():
        table.add_row(f"stage {key} (s)", str(value))
    out_console.print(table)
