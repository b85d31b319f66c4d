"""`leadgen mailbox ...`: classify a saved message; read the routes' IMAP mailboxes and act on what came back."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadgen.cli.console import print_error
from leadgen.cli.context import err_console, fail, get_engine, get_settings, out_console
from leadgen.clock import utc_now
from leadgen.stage_report import report_dict

if TYPE_CHECKING:  # IMAP, the classifier and the outreach effects load when `mailbox sync` runs
    from rich.progress import TaskID

    from leadgen.mailbox.sync import SyncReport, SyncStep


class Route(enum.StrEnum):
    """The sending routes (RouteName in leadgen.settings), as a CLI choice."""

    yandex = "yandex"
    gmail = "gmail"


app = typer.Typer(
    help="Mailbox: classify saved messages, read replies and bounces from each route's IMAP mailbox.",
    no_args_is_help=True,
)


@app.command()
def classify(
    file: Annotated[
        Path,
        typer.Argument(
            help="A raw RFC 5322 message (.eml; '-' reads stdin).", allow_dash=True, show_default=False
        ),
    ],
) -> None:
    """Print {"kind", "recipients", "status", "message_id"} for one saved message as one JSON line."""
    if str(file) == "-":
        raw = typer.get_binary_stream("stdin").read()
    else:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    from leadgen.mailbox.classify import classify as classify_message

    typer.echo(json.dumps(classify_message(raw).summary(), ensure_ascii=False))


@app.command()
def sync(
    ctx: typer.Context,
    route: Annotated[
        Route | None,
        typer.Option("--route", "-r", help="Read only this route's mailbox; default: every configured one."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Read new messages of each configured mailbox (IMAP_<ROUTE>_*), classify them and apply their effects.

    Incremental and safe to interrupt: each message is handled in one transaction with the mailbox's cursor.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from leadgen.mailbox.sync import sync_all
    from leadgen.outreach.settle import settle_unknown, tally

    settings = get_settings(ctx)
    engine = get_engine(ctx)
    with Progress(
        TextColumn("[bold]mailbox {task.fields[route]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_step(step: SyncStep) -> None:
            if step.route not in tasks:
                tasks[step.route] = progress.add_task(step.route, total=step.total, route=step.route, last="")
            last = f"UID {step.uid}: {step.kind}" if step.uid is not None else ""
            progress.update(tasks[step.route], completed=step.done, total=step.total, last=last)

        reports = sync_all(
            engine, settings, now=utc_now, routes=[route.value] if route else None, progress=on_step
        )
    settled = tally(settle_unknown(engine, settings, now=utc_now))  # after the bounces and replies
    if as_json:
        out_console.print_json(json.dumps([report_dict(r) for r in reports], ensure_ascii=False, default=str))
    else:
        for report in reports:
            out_console.print(summary_line(report), markup=False, soft_wrap=True)
        out_console.print(
            f"unknown messages settled from sent folders: {settled['sent']} sent, {settled['requeued']} "
            f"requeued; {settled['waiting'] + settled['unknown']} still unknown (`leadgen outreach settle`)",
            markup=False,
            soft_wrap=True,
        )
    failed = [r for r in reports if r.error]
    for report in failed:
        print_error(f"{report.route}: {report.error}")
    if failed:
        raise typer.Exit(1)


def summary_line(report: SyncReport) -> str:
    """One line of what a route's sync did: `yandex (user@host INBOX): 12 new, 12 read (3 hard_bounce, ...)`."""
    head = f"{report.route} ({report.mailbox} {report.folder}): "
    if report.uidvalidity is None:
        return head + "not read"
    kinds = ", ".join(
        f"{n} {kind}" for kind, n in sorted(report.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    parts = [f"{report.read} of {report.new} new messages read" + (f" ({kinds})" if kinds else "")]
    parts.append(f"{report.matched} matched our messages")
    if report.suppressed:
        parts.append(f"{report.suppressed} addresses suppressed")
    if report.stopped:
        parts.append(f"{report.stopped} pending messages stopped")
    if report.duplicates:
        parts.append(f"{report.duplicates} recorded before, not applied again")
    if report.rescanned:
        parts.append(f"UIDVALIDITY changed from {report.previous_uidvalidity}: folder read again from UID 1")
    parts.append(f"cursor at UID {report.last_uid}")
    return head + "; ".join(parts)
