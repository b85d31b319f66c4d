"""The demo run (`leadgen demo`): the whole pipeline in the loopback sandbox through Prefect, no credentials.

It drives the orchestration layer (flows, infra), so it lives in the harness, above it; the CLI adds the command
lazily (leadgen/cli/lazy.py, leadgen_sandbox/cli.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.table import Table

from leadgen.cli.console import styled
from leadgen.cli.context import err_console, fail, out_console
from leadgen.errors import OutputUnusable

# Prefect runs ephemerally inside the demo (its own API database under the work folder), quietly.
PREFECT_ENV = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # Prefect telemetry off: server analytics and SDK events
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}
SHOWN = 8


@contextmanager
def scoped_environment(values: Mapping[str, str], *, remove: Sequence[str] = ()) -> Iterator[None]:
    """Set (and unset) environment variables for the block; the old environment and working folder come back."""
    saved = os.environ.copy()
    cwd = Path.cwd()
    os.environ.update(values)
    for name in remove:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def _table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], total: int | None = None
) -> Table:
    count = total if total is not None else len(rows)
    table = Table(title=f"{title} ({count})", title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows[:SHOWN]:
        table.add_row(*(str(v) for v in row))
    if count > SHOWN:
        table.add_row(*([f"… {count - SHOWN} more"] + [""] * (len(columns) - 1)))
    return table


def run_demo(workdir: Path | None, *, results: int, twice: bool) -> None:
    """Run the pipeline in the sandbox (twice unless `twice` is False) in `workdir` or a temporary folder, print
    each stage's account, the report and the mailbox loop; fail if anything was duplicated or did not come back."""
    started = time.monotonic()
    own_dir = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="leadgen-demo-")) if workdir is None else workdir.resolve()
    if not folder.parent.is_dir():
        raise OutputUnusable(f"the folder above --workdir {folder} does not exist: create it first")
    folder.mkdir(exist_ok=True)
    try:
        _run_demo(folder, results=results, twice=twice, started=started)
    finally:
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)


def _run_demo(folder: Path, *, results: int, twice: bool, started: float) -> None:
    from leadgen.db import make_engine, migrate
    from leadgen.db.engine import read_scope
    from leadgen.settings import Settings
    from leadgen_sandbox.demo import snapshot
    from leadgen_sandbox.stack import DEMO_BATCH, SandboxStack, settings_env

    with SandboxStack(max_results=results, time_to_done=1.0, maildir=folder / "maildir") as stack:
        out_console.print(styled("[bold]sandbox[/] (loopback only, no credentials):"))
        for name, url in stack.addresses().items():
            out_console.print(f"  {name:<32} {url}", soft_wrap=True)
        env = settings_env(stack.settings_overrides(folder)) | PREFECT_ENV
        env["PREFECT_HOME"] = str(folder / "prefect")
        # Ephemeral Prefect (no PREFECT_API_URL); the work folder has no .env, so nothing of the host's leaks in.
        with scoped_environment(env, remove=["PREFECT_API_URL"]):
            os.chdir(folder)
            settings = Settings()
            logging.getLogger().setLevel(logging.WARNING)  # the demo prints its own account of each stage
            logging.getLogger("httpx").setLevel(logging.WARNING)
            engine = make_engine(settings.database_url)
            migrate.upgrade(engine)
            out_console.print(f"database {settings.database_url} migrated; starting Prefect (ephemeral)…")

            # Imported only now: Prefect reads its settings (PREFECT_HOME) when first imported.
            from flows.params import PipelineParams
            from flows.pipeline import pipeline_flow
            from infra.bootstrap import bootstrap

            bootstrap(settings, pool_type="process", pool_name="leadgen-demo")
            params = PipelineParams(
                batch_tag=DEMO_BATCH,
                search_limit=50,
                collect_wait_seconds=60,
                enrich_limit=50 * results,
            )
            first = pipeline_flow(params)
            delivered = [(r, m.message_id or "") for m in stack.sink.messages for r in m.rcpt_tos]
            with read_scope(engine) as session:
                shot = snapshot(session, delivered=delivered)
            _print_snapshot(shot)
            second: dict[str, Any] | None = None
            if twice:
                out_console.print(styled("\n[bold]running the pipeline again for the same batch…[/]"))
                second = pipeline_flow(params)
                delivered = [(r, m.message_id or "") for m in stack.sink.messages for r in m.rcpt_tos]
                with read_scope(engine) as session:
                    again = snapshot(session, delivered=delivered)
                _print_rerun(shot, again, second)
                shot = again
            _print_report(first if second is None else second)
            loop = _close_the_loop(stack, engine, settings)
            engine.dispose()
    elapsed = time.monotonic() - started
    out_console.print(f"\ndemo finished in {elapsed:.0f} s")
    if not shot.clean or not shot.delivered:
        fail("the demo found duplicates or delivered nothing (see above)")
    if not loop.suppressed_by_bounce or not loop.replies:
        fail("the demo's mailbox brought no suppressed bounce or no reply (see above)")


def _close_the_loop(stack: Any, engine: Any, settings: Any) -> Any:
    """Deliver the sandbox relay's DSNs and the fake recipient's reply, read that Maildir twice, print the loop."""
    from dataclasses import asdict

    from leadgen.cli.report import print_loop
    from leadgen.clock import utc_now
    from leadgen.db.engine import read_scope
    from leadgen.mailbox.loop_stats import loop_stats
    from leadgen.mailbox.maildir import process_maildir

    returned = stack.sink.deliver_returns()
    maildir = stack.sink.returns.maildir
    out_console.print(
        styled("\n[bold]the mailbox[/] {}: {} messages came back (DSNs, a reply)", maildir, len(returned)),
        soft_wrap=True,
    )
    route = settings.routing_default_route
    try:
        first = process_maildir(engine, maildir, route=route, settings=settings, now=utc_now())
    except ImportError as exc:  # the classifier module is missing from this installation
        fail(f"cannot classify the sandbox mailbox: {exc}")
    for outcome in first.outcomes:
        out_console.print(f"  {outcome.kind}: {outcome.effect}", soft_wrap=True, markup=False)
    again = process_maildir(engine, maildir, route=route, settings=settings, now=utc_now())
    out_console.print(f"read again: {again.read} messages, {again.recorded} recorded (must be 0)")
    with read_scope(engine) as session:
        loop = loop_stats(session)
    print_loop(asdict(loop))
    return loop


def _print_snapshot(shot: Any) -> None:
    out_console.print()
    out_console.print(_table("queries", ["query", "region", "status"], shot.queries))
    out_console.print(f"deferred search operations: {shot.operations}")
    out_console.print(_table("companies", ["domain", "status"], shot.companies))
    out_console.print(_table("contacts", ["domain", "kind", "value"], shot.contacts))
    out_console.print(_table("drafts and messages", ["to", "subject", "status"], shot.drafts))
    out_console.print(_table("received by the SMTP sink", ["recipient", "Message-ID"], shot.delivered))
    _print_duplicates(shot.duplicates)


def _print_duplicates(duplicates: Mapping[str, int]) -> None:
    table = Table(title="duplicates (must all be 0)", title_justify="left")
    table.add_column("check")
    table.add_column("found", justify="right")
    for name, count in duplicates.items():
        table.add_row(name, styled("[red]{}[/]", count) if count else "0")
    out_console.print(table)


def _print_rerun(before: Any, after: Any, second: Mapping[str, Any]) -> None:
    added = {
        "queries": len(after.queries) - len(before.queries),
        "operations": after.operations - before.operations,
        "companies": len(after.companies) - len(before.companies),
        "contacts": len(after.contacts) - len(before.contacts),
        "messages": len(after.drafts) - len(before.drafts),
        "emails delivered": len(after.delivered) - len(before.delivered),
    }
    out_console.print("second run added: " + ", ".join(f"{k} {v}" for k, v in added.items()))
    _print_duplicates(after.duplicates)


def _print_report(result: Mapping[str, Any]) -> None:
    funnel = result.get("report", {}).get("funnel", {})
    table = Table(title=f"report: batch {result.get('batch_tag')}", title_justify="left")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for key, value in funnel.items():
        if isinstance(value, int) and not isinstance(value, bool):
            table.add_row(key, str(value))
    out_console.print(table)
    if not funnel:
        err_console.print("no report was produced")
