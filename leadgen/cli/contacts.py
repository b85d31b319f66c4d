"""`leadgen contacts extract` (one HTML file → JSON contacts) and `leadgen enrich` (crawl companies from the DB)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadgen.cli.context import batch_tag_option, err_console, fail, get_engine, get_settings
from leadgen.stage_report import report_dict

if TYPE_CHECKING:  # the crawler, the extractor and the database load when a command runs
    from sqlalchemy import Engine

    from leadgen.contacts.enrich import CompanyOutcome, EnrichReport
    from leadgen.settings import Settings

app = typer.Typer(help="Contact extraction from saved pages.", no_args_is_help=True)


@app.command("extract")
def extract(
    file: Annotated[str, typer.Argument(help="HTML file to read, or - for stdin.")],
    url: Annotated[
        str, typer.Option("--url", help="URL the page was fetched from (site domain, links).")
    ] = "",
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="Content-Type header, for its charset.")
    ] = None,
) -> None:
    """Print the page's contacts as JSON: {"emails": [...], "phones": [...], "details": [...]}.

    `emails` (lower case) and `phones` (E.164) leave out web-studio addresses; `details` has every contact with
    its source, quality and flags.
    """
    from leadgen.contacts.extract import extract_contacts

    try:
        body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    contacts = extract_contacts(body, base_url=url, content_type=content_type)
    out = {
        "emails": [c.value for c in contacts if c.kind == "email" and not c.web_studio],
        "phones": [c.value for c in contacts if c.kind == "phone" and not c.web_studio],
        "details": [asdict(c) for c in contacts],
    }
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


def enrich(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Companies to crawl at most.")] = 50,
    company: Annotated[
        list[str] | None,
        typer.Option(
            "--company", help="Crawl this domain (repeatable), whatever its status; else `new` ones."
        ),
    ] = None,
    batch_tag: Annotated[
        str | None,
        typer.Option("--batch-tag", help="Only companies found by this batch.", callback=batch_tag_option),
    ] = None,
) -> None:
    """Crawl company sites for contacts (status new → enriched / no_contacts / unreachable), with progress."""
    from leadgen.contacts.selection import company_ids_for_typed, count_to_enrich
    from leadgen.db.engine import read_scope

    settings = get_settings(ctx)
    engine = get_engine(ctx)
    _release_orphans(engine, batch_tag)
    company_ids: list[int] | None = None
    if company:
        with read_scope(engine) as session:
            company_ids, missing = company_ids_for_typed(session, company)
        if missing:
            fail(f"no company with domain {', '.join(missing)}")
        limit = max(limit, len(company_ids))
    with read_scope(engine) as session:
        total = count_to_enrich(session, limit=limit, company_ids=company_ids, batch_tag=batch_tag)
    report = _enrich_with_progress(
        engine, settings, total, limit=limit, company_ids=company_ids, batch_tag=batch_tag
    )
    typer.echo(json.dumps(report_dict(report), ensure_ascii=False, indent=2))


def _release_orphans(engine: Engine, batch_tag: str | None) -> None:
    """Companies left in `enriching` by a run that is gone go back to `new` first (at once, or after the stale
    age); says how many on stderr."""
    from leadgen.cli.owners import cli_owner_alive
    from leadgen.clock import utc_now
    from leadgen.contacts.orphans import release_orphaned_companies

    released = release_orphaned_companies(
        engine, owner_alive=cli_owner_alive, now=utc_now(), batch_tag=batch_tag
    )
    if released.owner_gone or released.stale:
        err_console.print(
            f"released {released.owner_gone + released.stale} companies left in `enriching` by a run that is "
            f"gone ({released.stale} after the stale timeout)",
            markup=False,
            highlight=False,
        )


def _enrich_with_progress(
    engine: Engine,
    settings: Settings,
    total: int,
    *,
    limit: int,
    company_ids: list[int] | None,
    batch_tag: str | None,
) -> EnrichReport:
    """Run `enrich_companies` with a progress bar of `total` companies on stderr (the last domain and outcome)."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from leadgen.contacts.enrich import enrich_companies

    with Progress(
        TextColumn("[bold]enrich"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task("enrich", total=total, last="")

        def on_company(outcome: CompanyOutcome) -> None:
            progress.update(task, advance=1, last=f"{outcome.domain}: {outcome.status}")

        return asyncio.run(
            enrich_companies(
                engine,
                settings,
                limit=limit,
                company_ids=company_ids,
                force=company_ids is not None,
                progress=on_company,
                batch_tag=batch_tag,
            )
        )
