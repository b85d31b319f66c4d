"""`leadgen outreach ...`: draft, queue, preview and send emails; recover rows left in `sending`; resolve
`unknown` rows by hand."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadgen.cli.context import batch_tag_option, err_console, get_engine, get_settings, out_console
from leadgen.clock import utc_now

if TYPE_CHECKING:  # the database and the settings load when a command runs
    from sqlalchemy import Engine

    from leadgen.settings import Settings

app = typer.Typer(
    help="Outreach: write drafts, verify and queue them, send under the daily cap.", no_args_is_help=True
)

Limit = Annotated[int, typer.Option("--limit", "-n", min=0, help="Handle at most N rows.")]
BatchTag = Annotated[
    str | None,
    typer.Option(
        "--batch-tag",
        help="Only companies found by this batch (and their messages).",
        callback=batch_tag_option,
    ),
]


def _print(report: Any) -> None:
    out_console.print_json(json.dumps(asdict(report), ensure_ascii=False, default=str))


def _journaled(
    ctx: typer.Context, stage: str, work: Callable[[Engine, Settings], Any], batch_tag: str | None = None
) -> Any:
    """Run one stage as a journal entry (`leadgen report --runs`), print its report and return it."""
    from leadgen.journal import journaled

    engine = get_engine(ctx)
    with journaled(engine, stage, clock=utc_now, batch_tag=batch_tag) as run:
        report = work(engine, get_settings(ctx))
        run.result = asdict(report)
    _print(report)
    return report


@app.command()
def draft(ctx: typer.Context, limit: Limit = 50, batch_tag: BatchTag = None) -> None:
    """Write drafts (LLM or fallback) for enriched companies that have no message in this campaign."""
    from leadgen.outreach.drafting import draft_messages  # loads the OpenAI client

    _journaled(
        ctx,
        "cli-draft",
        lambda e, s: draft_messages(e, s, limit=limit, now=utc_now(), batch_tag=batch_tag),
        batch_tag,
    )


@app.command()
def queue(ctx: typer.Context, limit: Limit = 100, batch_tag: BatchTag = None) -> None:
    """Verify recipients (syntax, opt-out, MX) and guardrails of drafts; queue or skip them."""
    from leadgen.outreach.queueing import queue_messages

    _journaled(
        ctx,
        "cli-queue",
        lambda e, s: queue_messages(e, s, limit=limit, now=utc_now(), batch_tag=batch_tag),
        batch_tag,
    )


@app.command()
def send(
    ctx: typer.Context,
    limit: Limit = 100,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write .eml files to OUTREACH_DRY_RUN_DIR; change nothing.")
    ] = False,
    batch_tag: BatchTag = None,
) -> None:
    """Send queued messages inside the send window, never more than OUTREACH_DAILY_CAP a day.

    A route that cannot be used (connection, TLS, STARTTLS, AUTH) gets one line on stderr naming the setting
    to check; when no route a message may take works, the run stops (exit 1) and no message is spent. Rows left
    in `sending` by a sender that is gone (a dead process on this host, a finished flow run) are released first.
    """
    from leadgen.cli.owners import cli_owner_alive
    from leadgen.outreach.sending import send_queued

    get_engine(ctx, must_exist=dry_run)  # a dry run against a missing SQLite file creates none
    report = _journaled(
        ctx,
        "cli-send",
        lambda e, s: send_queued(
            e, s, limit=limit, now=utc_now, dry_run=dry_run, owner_alive=cli_owner_alive, batch_tag=batch_tag
        ),
        batch_tag,
    )
    for line in report.routes_down:
        err_console.print(f"error: {line}", markup=False, soft_wrap=True, highlight=False)
    if any(line in (report.stopped_reason or "") for line in report.routes_down):  # stopped by the outage
        raise typer.Exit(1)


@app.command()
def preview(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="Canonical domain of the company.")],
    fresh: Annotated[bool, typer.Option("--fresh", help="Compose a new draft (not stored).")] = False,
) -> None:
    """Print the draft for a company and its guardrail verdict (a stored draft, or a fresh one)."""
    from leadgen.db import read_scope
    from leadgen.outreach.drafting import preview_draft
    from leadgen.outreach.message import footer_text
    from leadgen.outreach.offer import load_offer
    from leadgen.outreach.send_run import unsubscribe_for

    settings = get_settings(ctx)
    offer = load_offer(settings.outreach_offer_file)
    with read_scope(get_engine(ctx)) as session:
        brief, email, composed = preview_draft(session, settings, domain, offer=offer, fresh=fresh)
    out_console.print(f"To: {email or '(no usable address)'}", markup=False)
    out_console.print(f"Subject: {composed.template.subject}", markup=False)
    out_console.print("", markup=False)
    out_console.print(composed.template.body, markup=False)
    out_console.print("", markup=False)
    out_console.print(footer_text(offer, unsubscribe_for(settings, offer)), markup=False)
    out_console.print("", markup=False)
    verdict = "ok" if composed.verdict.ok else "REJECTED: " + "; ".join(composed.verdict.problems)
    meta = dict(composed.meta)
    out_console.print(f"composer: {composed.composer}  guardrails: {verdict}", markup=False)
    if meta.get("fallback_reason"):
        out_console.print(f"fallback reason: {meta['fallback_reason']}", markup=False)
    if meta.get("llm_problems"):
        out_console.print(f"LLM draft problems: {'; '.join(meta['llm_problems'])}", markup=False)
    del brief


@app.command()
def recover(
    ctx: typer.Context,
    minutes: Annotated[
        float | None, typer.Option(help="Age in minutes (default OUTREACH_STALE_SENDING_MINUTES).")
    ] = None,
) -> None:
    """Rows stuck in `sending`: requeue those that crashed before their DATA checkpoint, mark the rest `unknown`
    (never resent automatically). Rows whose sender is gone (a dead process here, a finished flow run) are
    recovered whatever their age; the others once older than --minutes."""
    from leadgen.cli.owners import cli_owner_alive
    from leadgen.outreach.orphans import release_orphaned_messages
    from leadgen.outreach.recovery import recover_rows

    settings = get_settings(ctx)
    engine = get_engine(ctx)
    age = minutes if minutes is not None else settings.outreach_stale_sending_minutes
    gone = release_orphaned_messages(engine, owner_alive=cli_owner_alive, now=utc_now())
    done = recover_rows(engine, now=utc_now(), stale_after=timedelta(minutes=age))
    released = gone.requeued + gone.unknown
    line = (
        f"{gone.requeued + done.requeued} rows requeued (crashed before DATA), {gone.unknown + done.unknown}"
    )
    line += " rows marked unknown" + (
        f" ({released} of them because their sender is gone)" if released else ""
    )
    out_console.print(line, markup=False, highlight=False, soft_wrap=True)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown operator"


@app.command()
def resolve(
    ctx: typer.Context,
    message_id: Annotated[
        str,
        typer.Argument(metavar="MESSAGE_ID", help="Message-ID header value (<…> optional) or the row id."),
    ],
    sent: Annotated[
        bool | None,
        typer.Option(
            "--sent/--failed", help="The message did (--sent) or did not (--failed) reach the server."
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who settles it (default: the login name).")] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Evidence, e.g. 'found in the Sent folder'.")
    ] = None,
) -> None:
    """Settle an `unknown` message by hand (it is never resent automatically): --sent or --failed."""
    from leadgen.outreach.resolve import resolve_unknown

    if sent is None:
        raise typer.BadParameter("say --sent or --failed", param_hint="--sent/--failed")
    result = resolve_unknown(
        get_engine(ctx), message_id, sent=sent, now=utc_now(), by=by or _operator(), note=note
    )
    out_console.print(
        f"message {result.id} {result.message_id or ''} to {result.to_email or '(forgotten)'}: {result.status}",
        markup=False,
    )


@app.command()
def settle(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Settle `unknown` messages from their route's sent folder (IMAP_<ROUTE>_SENT_*): a copy found means sent;
    none in a reliable folder after OUTREACH_SETTLE_AFTER_MINUTES means not sent (requeued). One line per row."""
    from leadgen.outreach.settle import settle_unknown

    results = settle_unknown(get_engine(ctx), get_settings(ctx), now=utc_now)
    for item in results:
        if as_json:
            typer.echo(json.dumps(item.summary(), ensure_ascii=False))
        else:
            out_console.print(item.line(), markup=False, soft_wrap=True, highlight=False)
    if not results and not as_json:
        out_console.print("no unknown messages", markup=False)
