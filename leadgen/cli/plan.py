"""`leadgen plan`: read NICHES_INPUT (sheet or CSV), plan the batch into serp_queries, write statuses back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadgen.cli.context import batch_tag_option, fail, get_engine, get_settings, out_console
from leadgen.clock import utc_now

if TYPE_CHECKING:  # the planner (sheets client, database) loads when `leadgen plan` runs
    from leadgen.planning import PlannedQuery, PlanReport

PREVIEW_ROWS = 20  # queries (and row errors) a dry run shows without --all


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
            "--batch-tag",
            help="Plan only rows of this batch; rows with an empty batch_tag join it.",
            callback=batch_tag_option,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the queries and their schedule; write nothing.")
    ] = False,
    status_out: Annotated[
        Path | None, typer.Option("--status-out", help="With --csv: also write row statuses to this CSV.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="With --dry-run: print every query, not only the first ones.")
    ] = False,
) -> None:
    """Validate niche rows, generate queries (≤ 6 per niche) and schedule them inside the night window."""
    from leadgen.planning.run import run_planning
    from leadgen.planning.source import is_sheet, resolve_source

    settings = get_settings(ctx)
    if sheet and csv_file is not None:
        fail("use --sheet or --csv, not both", code=2)
    if csv_file is not None:
        source = str(csv_file)
    else:
        source = resolve_source(settings, None)
        if sheet and not is_sheet(source):
            fail(f"--sheet needs NICHES_INPUT to be a Google Sheet id or URL, got {source!r}", code=2)
    preview = _Preview(show_all=show_all) if dry_run else None
    report, written = run_planning(
        get_engine(ctx, must_exist=dry_run), settings, source=source, batch_tag=batch_tag, now=utc_now(),
        dry_run=dry_run,
        status_out=status_out, on_query=preview.add if preview else None,
    )  # fmt: skip
    _print(report, preview, written=written, sheet=is_sheet(source))
    if report.rows_total and report.rows_failed == report.rows_total:
        fail(f"every row failed ({report.rows_failed} row errors): nothing was planned", code=1)


class _Preview:
    """Dry-run output as queries stream in: the first PREVIEW_ROWS in a table, or with --all every query as a
    tab-separated line printed at once (memory stays flat however large the file)."""

    def __init__(self, *, show_all: bool) -> None:
        self.show_all = show_all
        self.first: list[PlannedQuery] = []
        self.count = 0
        self.tails: dict[str, str] = {}

    def add(self, q: PlannedQuery) -> None:
        from leadgen.planning.queries import split_operators

        self.count += 1
        if self.show_all:
            words, tail = split_operators(q.query_text)
            label = self.tails.setdefault(tail, f"#{len(self.tails) + 1}")
            new = "yes" if q.inserted else "dup"
            region = f"{q.region_name} ({q.region_code})"
            out_console.print(
                f"{q.row_number}\t{region}\t{q.scheduled_for or ''}\t{new}\t{words}\t{label}", soft_wrap=True
            )
        elif len(self.first) < PREVIEW_ROWS:
            self.first.append(q)

    def print(self) -> None:
        from leadgen.planning.queries import split_operators

        if not self.show_all:
            table = Table(title=f"Planned queries (dry run): first {len(self.first)} of {self.count}")
            for column in ("row", "region (lr)", "scheduled for", "new", "query words", "operators"):
                table.add_column(column, overflow="fold")
            for q in self.first:
                words, tail = split_operators(q.query_text)
                label = self.tails.setdefault(tail, f"#{len(self.tails) + 1}")
                table.add_row(
                    str(q.row_number),
                    f"{q.region_name} ({q.region_code})",
                    q.scheduled_for or "",
                    "yes" if q.inserted else "dup",
                    words,
                    label,
                )
            out_console.print(table)
            if self.count > len(self.first):
                out_console.print(f"… {self.count - len(self.first)} more queries (--all prints every one)")
        for tail, label in self.tails.items():
            out_console.print(f"operators {label}: {tail or '(none)'}", soft_wrap=True)


def _print(report: PlanReport, preview: _Preview | None, *, written: int, sheet: bool) -> None:
    if preview is not None:
        preview.print()
    if report.errors:
        shown = report.errors if preview is None or preview.show_all else report.errors[:PREVIEW_ROWS]
        errors = Table(title=f"Row errors ({len(report.errors)})")
        errors.add_column("row")
        errors.add_column("reason", overflow="fold")
        for error in shown:
            errors.add_row(str(error.id), error.reason)
        out_console.print(errors)
        if len(shown) < len(report.errors):
            out_console.print(f"… {len(report.errors) - len(shown)} more row errors (--all prints every one)")
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
