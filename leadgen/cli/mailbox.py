"""`leadgen mailbox ...`: classify a saved message (and, later, read the routes' mailboxes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leadgen.cli.context import fail

app = typer.Typer(help="Mailbox: what comes back to the sending routes.", no_args_is_help=True)


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
