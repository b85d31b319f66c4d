"""`leadgen plan`: read NICHES_INPUT (sheet or CSV), plan the batch into serp_queries, write statuses back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadgen.cli.context import fail, get_engine, get_settings, out_console
from leadgen.clock import utc_now
from leadgen.planning import PlanReport
from leadgen.planning.queries import split_operators
from leadgen.planning.run import run_planning
from leadgen.planning.source import is_sheet, resolve_source


def plan(
    ctx: typer.Context,
    sheet: Annotated[
        bool, typer.Option("--sheet", help="Read the Google Sheet named by NICHES_INPUT.")
    ] = False,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Read this CSV file instead of NICHES_INPUT.", dir_okay=False)
    ] = None,
    batch_tag: Annotated[
        str | None,
        typer.Option(
            "--batch-tag", help="Plan only rows of this batch; rows with an empty batch_tag join it."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the queries and their schedule; write nothing.")
    ] = False,
    status_out: Annotated[
        Path | None, typer.Option("--status-out", help="With --csv: also write row statuses to this CSV.")
    ] = None,
) -> None:
    """Validate niche rows, generate queries (≤ 6 per niche) and schedule them inside the night window."""
    settings = get_settings(ctx)
    if sheet and csv_file is not None:
        fail("use --sheet or --csv, not both", code=2)
    if csv_file is not None:
        source = str(csv_file)
    else:
        source = resolve_source(settings, None)
        if sheet and not is_sheet(source):
            fail(f"--sheet needs NICHES_INPUT to be a Google Sheet id or URL, got {source!r}", code=2)
    report, written = run_planning(
        get_engine(ctx), settings, source=source, batch_tag=batch_tag, now=utc_now(), dry_run=dry_run,
        status_out=status_out,
    )  # fmt: skip
    _print(report, written=written, sheet=is_sheet(source))


def _print(report: PlanReport, *, written: int, sheet: bool) -> None:
    if report.dry_run:
        table = Table(title="Planned queries (dry run)", show_lines=False)
        for column in ("row", "region (lr)", "scheduled for", "new", "query words", "operators"):
            table.add_column(column, overflow="fold")
        tails: dict[str, str] = {}
        for q in report.queries:
            words, tail = split_operators(q.query_text)
            label = tails.setdefault(tail, f"#{len(tails) + 1}")
            table.add_row(
                str(q.row_number),
                f"{q.region_name} ({q.region_code})",
                q.scheduled_for or "",
                "yes" if q.inserted else "dup",
                words,
                label,
            )
        out_console.print(table)
        for tail, label in tails.items():
            out_console.print(f"operators {label}: {tail or '(none)'}", soft_wrap=True)
    if report.errors:
        errors = Table(title="Row errors")
        errors.add_column("row")
        errors.add_column("reason", overflow="fold")
        for o in report.errors:
            errors.add_row(str(o.row_number), o.last_error or "")
        out_console.print(errors)
    verb = "would add" if report.dry_run else "added"
    out_console.print(
        f"batch {report.batch_tag or '(per row)'}: {report.rows_total} rows ({report.rows_failed} with errors, "
        f"{report.rows_skipped} of other batches skipped), {report.generated} queries generated, "
        f"{verb} {report.inserted}, {report.duplicates} duplicates; "
        f"scheduled {report.first_scheduled_for or '-'} … {report.last_scheduled_for or '-'}"
    )
    if written:
        target = "sheet cells" if sheet else "status rows"
        out_console.print(f"wrote {written} {target} back")
