"""`leadgen yandex search`: create one deferred search by hand, optionally wait for it and print the results."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadgen.cli.console import styled
from leadgen.cli.context import err_console, fail, get_settings, out_console
from leadgen.cli.serp import document_records
from leadgen.errors import ConfigurationError, LeadgenError, SerpParseError

if TYPE_CHECKING:  # the HTTP client and the parser load when the command runs
    from leadgen.settings import Settings
    from leadgen.yandex import SearchRequest

log = logging.getLogger(__name__)

app = typer.Typer(help="Yandex Search API v2 (deferred mode): manual searches.", no_args_is_help=True)


async def _run(
    settings: Settings,
    request: SearchRequest,
    *,
    wait: bool,
    ignore_night_window: bool,
    poll_interval: float,
    timeout: float,
) -> dict[str, Any]:
    from leadgen.serp import parse_serp
    from leadgen.yandex import YandexClient

    async with YandexClient.from_settings(settings) as client:
        operation = await client.create_search(request, ignore_night_window=ignore_night_window)
        result: dict[str, Any] = {
            "operation_id": operation.id,
            "query": request.query_text,
            "region": request.region,
            "page": request.page,
            "done": operation.done,
        }
        if not wait:
            return result
        finished = await client.wait(operation.id, poll_interval=poll_interval, timeout=timeout)
        try:
            page = parse_serp(finished.result_bytes())
        except SerpParseError as exc:  # an XML-level error (quota, bad page, ...) is shown, not raised
            result.update(done=True, error={"code": exc.code, "message": exc.message}, results=[])
            return result
        problem = {"code": page.error_code, "message": page.error_message} if page.error_code else None
        result.update(done=True, error=problem, results=document_records(page, settings))
        return result


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Query text (at most 400 characters).")],
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Yandex region id, e.g. 213 Moscow, 2 St Petersburg.")
    ] = None,
    page: Annotated[int, typer.Option("--page", min=0, help="Result page, 0-based.")] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until done and print the results.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    ignore_night_window: Annotated[
        bool, typer.Option("--ignore-night-window", help="Create the operation even outside NIGHT_WINDOW.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.0, help="Seconds between polls with --wait.")
    ] = 30.0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.0, help="Give up waiting after this many seconds.")
    ] = 3 * 3600.0,
) -> None:
    """Create a deferred search for QUERY; print its operation id, or with --wait its results."""
    import asyncio

    from leadgen.yandex import SearchRequest

    settings = get_settings(ctx)
    if ignore_night_window:
        _warn_night_window_off(settings, query)
    request = SearchRequest.from_settings(settings, query, region=region, page=page)
    try:
        result = asyncio.run(
            _run(
                settings,
                request,
                wait=wait,
                ignore_night_window=ignore_night_window,
                poll_interval=poll_interval,
                timeout=timeout,
            )
        )
    except ConfigurationError as exc:
        fail(str(exc), code=2)
    except LeadgenError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if not wait:
        out_console.print(result["operation_id"])
        return
    _print_results(result)


def _warn_night_window_off(settings: Settings, query: str) -> None:
    err_console.print(
        styled(
            "[bold yellow]WARNING:[/] night window check DISABLED (NIGHT_WINDOW={} {}); "
            "daytime requests are billed at the day rate",
            settings.night_window,
            settings.app_timezone,
        )
    )
    log.warning("yandex search with --ignore-night-window: %r", query)


def _print_results(result: dict[str, Any]) -> None:
    out_console.print(f"operation {result['operation_id']}: {len(result['results'])} results")
    if result.get("error"):
        error = result["error"]
        out_console.print(f"yandex: error {error['code']}: {error['message']}")
    for row in result["results"]:
        out_console.print(f"{row['position']:>3}. {row['domain'] or '-'} — {row['title']}", markup=False)
        out_console.print(f"     {row['url']}", markup=False, soft_wrap=True)
