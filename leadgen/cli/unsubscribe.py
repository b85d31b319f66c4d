"""`leadgen unsubscribe ...`: serve the one-click unsubscribe endpoint, print the link a message carries."""

from __future__ import annotations

from typing import Annotated

import typer

from leadgen.cli.context import fail, get_engine, get_settings, out_console
from leadgen.errors import ConfigurationError

app = typer.Typer(
    help="One-click unsubscribe (RFC 8058): the HTTP service and the links messages carry.",
    no_args_is_help=True,
)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
) -> None:
    """Serve POST /u/<token> (records the opt-out), GET /u/<token> (a confirmation page) and GET /healthz."""
    from leadgen.unsubscribe.tokens import signer_from_settings

    settings = get_settings(ctx)
    try:
        signer = signer_from_settings(settings)
    except ConfigurationError as exc:
        fail(str(exc), code=2)
    engine = get_engine(ctx)
    import uvicorn  # the server stack loads only for this command

    from leadgen.unsubscribe.app import create_app

    public = settings.unsubscribe_base_url or "(UNSUBSCRIBE_BASE_URL not set: no message carries these links)"
    out_console.print(f"one-click unsubscribe on http://{host}:{port}, public root {public}", soft_wrap=True)
    # No access log: request paths carry tokens; the app logs a short token prefix itself.
    uvicorn.run(
        create_app(engine, signer),
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        log_level=settings.log_level.lower(),
    )


@app.command("url")
def url(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The recipient address.")],
    message_id: Annotated[
        str | None, typer.Option("--message-id", help="Bind the link to this Message-ID (as messages do).")
    ] = None,
) -> None:
    """Print the one-click unsubscribe URL a message to EMAIL carries (List-Unsubscribe and the footer)."""
    from leadgen.db.models import OptOutKind
    from leadgen.outreach.optout import classify_value
    from leadgen.unsubscribe.tokens import UnsubscribeLinks

    parsed = classify_value(email)
    if parsed is None or parsed[0] is not OptOutKind.EMAIL:
        fail(f"not an email address: {email!r}")
    try:
        links = UnsubscribeLinks.from_settings(get_settings(ctx))
    except ConfigurationError as exc:
        fail(str(exc), code=2)
    if links is None:
        fail("UNSUBSCRIBE_BASE_URL is not set: messages carry no one-click link (see .env.example)", code=2)
    typer.echo(links.url(parsed[1], message_id=message_id))
