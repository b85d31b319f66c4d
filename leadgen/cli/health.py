"""`leadgen health`: check the database, the Prefect API, SMTP, Yandex and IMAP; a table or JSON; exit 1 on a failure."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from leadgen.cli.console import styled
from leadgen.cli.context import get_settings, out_console

STATUS_STYLE = {"ok": "bold green", "fail": "bold red", "skipped": "yellow"}
CHECKS_HELP = "database, prefect, smtp, yandex, imap"  # leadgen.health.CHECK_NAMES (not imported at start)


def _prefect_api_url() -> str | None:
    """PREFECT_API_URL as Prefect resolves it (environment, profile); the orchestration layer reads it."""
    from infra.bootstrap import prefect_api_url  # lazily, as `leadgen infra`: leadgen never imports Prefect

    return prefect_api_url()


def health(
    ctx: typer.Context,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Run only these checks (repeatable): {CHECKS_HELP}.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=0.1, help="Seconds one check may take (default: HEALTH_TIMEOUT_SECONDS)."
        ),
    ] = None,
) -> None:
    """Check every configured dependency without side effects (no mail sent, mailboxes read-only).

    Exit 1 when any check fails, 0 otherwise (skipped checks are not failures)."""
    from leadgen.health import CHECK_NAMES, failed, plan_checks, run_checks, secret_values

    names = [name.strip().lower() for name in only or []]
    unknown = [name for name in names if name not in CHECK_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"unknown check {unknown[0]!r}: choose from {', '.join(CHECK_NAMES)}", param_hint="--only"
        )
    settings = get_settings(ctx)
    if logging.getLogger().level > logging.DEBUG:
        for noisy in ("httpx", "alembic", "imapclient"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    limit = timeout or settings.health_timeout_seconds
    wanted = names or list(CHECK_NAMES)
    api_url = _prefect_api_url() if "prefect" in wanted else None
    checks = plan_checks(settings, prefect_api_url=api_url, only=wanted)
    results = run_checks(checks, timeout=limit, secrets=secret_values(settings))
    bad = failed(results)
    if as_json:
        payload = {"ok": not bad, "checks": [r.as_dict() for r in results]}
        out_console.file.write(json.dumps(payload, ensure_ascii=False) + "\n")
    else:
        table = Table(show_header=True, header_style="bold", expand=False)
        for column in ("check", "target", "status", "detail"):
            table.add_column(column, overflow="fold")
        for r in results:
            table.add_row(r.check, r.target, Text(r.status, style=STATUS_STYLE[r.status]), r.detail)
        out_console.print(table)
        counts = {status: sum(r.status == status for r in results) for status in ("ok", "fail", "skipped")}
        summary = "{} ok, {} failed, {} skipped"
        template = f"[bold red]{summary}[/]" if bad else f"[bold green]{summary}[/]"
        out_console.print(styled(template, counts["ok"], counts["fail"], counts["skipped"]))
    if bad:
        raise typer.Exit(1)
