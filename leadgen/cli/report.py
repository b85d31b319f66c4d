"""`leadgen report` (funnel, daily summaries, top domains, quality, run journal) and `leadgen export`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from leadgen.cli.context import batch_tag_option, get_engine, get_settings, out_console
from leadgen.outputs import check_output

if TYPE_CHECKING:  # the report queries (SQLAlchemy) load when a command runs
    from leadgen.pipeline_stats import FunnelCounts

export_app = typer.Typer(help="Export working domains or contacts as CSV.", no_args_is_help=True)

FUNNEL_FIELDS = (
    "queries", "operations", "results", "companies", "duplicates", "contacts", "drafted", "queued", "sending",
    "sent", "unknown", "settled", "failed", "skipped", "opted_out", "bounced", "replied",
)  # fmt: skip
LOOP_FIELDS = (
    "hard_bounces", "soft_bounces", "suppressed_by_bounce", "addresses_soft_bouncing", "replies",
    "companies_replied", "unsubscribes", "suppressed_by_reply", "auto_replies", "other",
)  # fmt: skip


def report(
    ctx: typer.Context,
    batch_tag: Annotated[
        str | None, typer.Option("--batch-tag", help="Only this batch.", callback=batch_tag_option)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, help="Daily summaries to show.")] = 14,
    top: Annotated[int, typer.Option("--top", min=1, help="Top domains to show.")] = 20,
    runs: Annotated[
        bool, typer.Option("--runs", help="Only the latest stage runs (the run journal).")
    ] = False,
    last: Annotated[
        int, typer.Option("--last", min=1, help="Stage runs to show with --runs or --json.")
    ] = 20,
) -> None:
    """Funnel per batch, daily summaries, top domains and quality checks."""
    from leadgen.db.engine import read_scope
    from leadgen.mailbox.loop_stats import loop_stats
    from leadgen.pipeline_stats import daily_summaries, funnel, funnels, latest_runs, quality, top_domains

    settings = get_settings(ctx)
    if runs and not as_json:
        with read_scope(get_engine(ctx)) as session:
            entries = [asdict(r) for r in latest_runs(session, limit=last)]
        print_runs(entries)
        return
    with read_scope(get_engine(ctx)) as session:
        total = funnel(session, batch_tag=batch_tag)
        batches = [total] if batch_tag is not None else funnels(session)
        data: dict[str, Any] = {
            "batch_tag": batch_tag,
            "funnel": asdict(total),
            "batches": [asdict(b) for b in batches],
            "daily_summaries": [asdict(d) for d in daily_summaries(session, days=days)],
            "top_domains": [asdict(t) for t in top_domains(session, limit=top)],
            "quality": asdict(
                quality(session, batch_tag=batch_tag, minus_domains=settings.planning_minus_domains)
            ),
            "loop": asdict(loop_stats(session, batch_tag=batch_tag)),
            "runs": [asdict(r) for r in latest_runs(session, limit=last)],
        }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    _print_funnel(batches, total)
    _print_daily(data["daily_summaries"])
    _print_top_domains(data["top_domains"])
    _print_quality(data["quality"])
    print_loop(data["loop"])


def _print_daily(summaries: list[dict[str, Any]]) -> None:
    daily = Table(title="Daily summaries (UTC days)")
    for column in (
        "day",
        "queries",
        "operations",
        "results",
        "companies",
        "contacts",
        "sent",
        "failed",
        "skipped",
    ):
        daily.add_column(column, justify="right" if column != "day" else "left")
    for d in summaries:
        daily.add_row(*(str(v) for v in d.values()))
    out_console.print(daily)


def _print_top_domains(top: list[dict[str, Any]]) -> None:
    domains = Table(title="Top domains in search results")
    for column in ("domain", "results", "operations", "best position", "kept", "skip reason"):
        domains.add_column(column)
    for t in top:
        domains.add_row(*("" if v is None else str(v) for v in t.values()))
    out_console.print(domains)


def _print_quality(q: dict[str, Any]) -> None:
    out_console.print(
        f"quality: repeated domains {q['companies_repeated']}/{q['companies_total']} "
        f"({q['repeated_domain_rate']:.2%}); minus-domain leakage {q['results_leaked']}/{q['results_total']} "
        f"results ({q['leakage_rate']:.2%})"
        + (f" — {', '.join(f'{d} ×{n}' for d, n in q['leaked_domains'][:5])}" if q["leaked_domains"] else "")
    )


def print_loop(loop: dict[str, Any]) -> None:
    """The outreach loop: what came back (bounces, replies, unsubscribes, auto-replies) and the latest replies."""
    table = Table(title="Outreach loop (mailboxes)")
    table.add_column("inbound")
    table.add_column("count", justify="right")
    for name in LOOP_FIELDS:
        table.add_row(name.replace("_", " "), str(loop[name]))
    out_console.print(table)
    if not loop["latest_replies"]:
        out_console.print("replies: none recorded")
        return
    replies = Table(title="Latest replies")
    for column in ("from", "date", "company", "first lines"):
        replies.add_column(column, overflow="fold")
    for r in loop["latest_replies"]:
        # Text cells: what a stranger wrote is shown as is, never read as Rich markup.
        cells = (r["sender"], (r["date"] or "")[:16], r["domain"], r["first_lines"])
        replies.add_row(*(Text(value or "") for value in cells))
    out_console.print(replies)


def print_runs(runs: list[dict[str, Any]]) -> None:
    """The run journal, newest first, one line per stage run: stage, batch, start, duration, status, counts and
    the first line of the error."""
    if not runs:
        out_console.print("runs: none recorded")
        return
    for r in runs:
        seconds = r["duration_seconds"]
        duration = "-" if seconds is None else f"{seconds:.1f}s"
        counts = " ".join(f"{k}={v}" for k, v in r["stats"].items())
        parts = [
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            r["stage"],
            f"batch={r['batch_tag'] or '-'}",
            duration,
            r["status"],
            counts,
            f"error: {r['error']}" if r["error"] else "",
        ]
        # Plain text, never Rich markup: an error message may hold brackets.
        out_console.print(Text("  ".join(p for p in parts if p)), soft_wrap=True)


def _print_funnel(batches: list[FunnelCounts], total: FunnelCounts) -> None:
    table = Table(title="Funnel per batch")
    table.add_column("stage")
    shown = list(batches)
    if len(batches) != 1 or batches[0].batch_tag != total.batch_tag:
        shown.append(total)
    for b in shown:
        table.add_column(b.batch_tag or "all", justify="right")
    for name in FUNNEL_FIELDS:
        table.add_row(name.replace("_", " "), *(str(getattr(b, name)) for b in shown))
    out_console.print(table)


@export_app.command("domains")
def domains_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.", dir_okay=False)],
    batch_tag: Annotated[
        str | None, typer.Option("--batch-tag", help="Only this batch.", callback=batch_tag_option)
    ] = None,
) -> None:
    """Working company domains (not duplicate, excluded, unreachable or opted out) with contact counts."""
    from leadgen.db.engine import read_scope
    from leadgen.exports import export_domains

    check_output(out)  # a bad --out fails before the database is read
    with read_scope(get_engine(ctx)) as session:
        count = export_domains(session, out, batch_tag=batch_tag)
    out_console.print(f"wrote {count} domains to {out}")


@export_app.command("contacts")
def contacts_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.", dir_okay=False)],
    batch_tag: Annotated[
        str | None, typer.Option("--batch-tag", help="Only this batch.", callback=batch_tag_option)
    ] = None,
) -> None:
    """Emails and phones of working companies; opted-out companies and emails are left out."""
    from leadgen.db.engine import read_scope
    from leadgen.exports import export_contacts

    check_output(out)  # a bad --out fails before the database is read
    with read_scope(get_engine(ctx)) as session:
        count = export_contacts(session, out, batch_tag=batch_tag)
    out_console.print(f"wrote {count} contacts to {out}")
