"""`leadgen serp ...`: parse a saved Yandex XML page, or store it as the result of an operation."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadgen.cli.context import fail, get_engine, get_settings
from leadgen.clock import utc_now
from leadgen.errors import SerpParseError
from leadgen.stage_report import report_dict

if TYPE_CHECKING:  # the parser and the database load when a command runs
    from leadgen.serp import SerpPage
    from leadgen.settings import Settings

app = typer.Typer(
    help="SERP pages: parse saved Yandex XML, ingest it into the database.", no_args_is_help=True
)

FileArg = Annotated[
    Path,
    typer.Argument(help="Decoded rawData XML file ('-' reads stdin).", allow_dash=True, show_default=False),
]


def document_records(page: SerpPage, settings: Settings) -> list[dict[str, Any]]:
    """JSON-ready records of a parsed page, each with the non-company filter's `skip_reason` (`repeat` for a later
    result of a domain already on the page) and `skip_source` (shipped, settings, file, signal)."""
    from leadgen.serp import DomainFilter

    domain_filter = DomainFilter.from_settings(settings)
    records = []
    reasons = domain_filter.classify_page(page.documents)
    for doc, reason in zip(page.documents, reasons, strict=True):
        record = asdict(doc)
        record["passages"] = list(doc.passages)
        record["skip_reason"] = reason
        record["skip_source"] = domain_filter.source_of(doc.host, doc.domain, reason)
        records.append(record)
    return records


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


@app.command()
def parse(ctx: typer.Context, file: FileArg) -> None:
    """Print one JSON object per result: url, domain, title, snippet, position, page, skip_reason, ..."""
    from leadgen.serp import parse_serp

    settings = get_settings(ctx)
    data = _read(file)
    try:
        page = parse_serp(data)
    except SerpParseError as exc:
        fail(f"{file}: {exc}")
    for record in document_records(page, settings):
        typer.echo(json.dumps(record, ensure_ascii=False))


@app.command()
def ingest(
    ctx: typer.Context,
    file: FileArg,
    operation_id: Annotated[str, typer.Option("--operation-id", help="Operation id the page belongs to.")],
    query_id: Annotated[
        int | None, typer.Option("--query-id", help="serp_queries.id, for niche/city/batch metadata.")
    ] = None,
) -> None:
    """Store a saved page as the results of OPERATION_ID (one transaction; re-running changes nothing).

    On PostgreSQL the page is COPYed (the bulk path of `collect_results`); on SQLite it is upserted."""
    from leadgen.db import write_scope
    from leadgen.serp.pages import Payload, ingest_pages

    settings = get_settings(ctx)
    data = _read(file)
    engine = get_engine(ctx)
    with write_scope(engine) as session:
        stored = ingest_pages(session, settings, [Payload(operation_id, data, query_id)], now=utc_now)
    if operation_id in stored.rejected:
        fail(f"{file}: {stored.rejected[operation_id]}")
    typer.echo(json.dumps(report_dict(stored.reports[operation_id]), ensure_ascii=False))


@app.command()
def directories(
    ctx: typer.Context,
    cross_query: Annotated[
        bool, typer.Option("--cross-query", help="Add the domains the stored results show to be directories.")
    ] = False,
) -> None:
    """Print the directory list as `domain<TAB>category<TAB>source` (shipped, settings, file, cross-query).

    The output is the DIRECTORY_DOMAINS_FILE format: save it (or the cross-query lines) to keep those entries.
    """
    from leadgen.db import read_scope
    from leadgen.serp import DomainFilter
    from leadgen.serp.crossquery import find_cross_query_domains
    from leadgen.serp.filter import DIRECTORY_PREFIX, SOURCE_CROSS_QUERY

    settings = get_settings(ctx)
    filt = DomainFilter.from_settings(settings)
    for domain in sorted(filt.reasons):
        reason = filt.reasons[domain]
        if reason.startswith(DIRECTORY_PREFIX):
            typer.echo(f"{domain}\t{reason.removeprefix(DIRECTORY_PREFIX)}\t{filt.sources[domain]}")
    if cross_query:
        with read_scope(get_engine(ctx)) as session:
            found = find_cross_query_domains(session, settings)
        for item in found:
            if item.domain not in filt.reasons:
                typer.echo(
                    f"{item.domain}\t{SOURCE_CROSS_QUERY}\t{SOURCE_CROSS_QUERY}\t"
                    f"# {item.queries} queries, {item.niches} niches, {item.regions} regions"
                )
