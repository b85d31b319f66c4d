"""`leadgen optout ...` (suppression list) and `leadgen forget EMAIL` (erase a person's data, keep a hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadgen.cli.context import fail, get_engine, out_console
from leadgen.clock import utc_now

app = typer.Typer(
    help="Opt-out registry: addresses and domains that are never written to.", no_args_is_help=True
)


@app.command("add")
def add(
    ctx: typer.Context,
    value: Annotated[
        str, typer.Argument(help="An email address or a domain (a domain covers its subdomains).")
    ],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the entry).")] = None,
) -> None:
    """Add an email or a domain to the opt-out registry (no-op when already there)."""
    from leadgen.db import write_scope
    from leadgen.outreach.optout import add_opt_out, classify_value

    parsed = classify_value(value)
    if parsed is None:
        fail(f"not an email address or a domain: {value!r}")
    kind, normalised = parsed
    with write_scope(get_engine(ctx)) as session:
        added = add_opt_out(session, normalised, kind=kind, reason=reason, source="cli")
    out_console.print(f"{kind.value} {normalised}: {'added' if added else 'already listed'}")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="CSV: a value/email/domain column (and optional reason), or one value per line."),
    ],
) -> None:
    """Import opt-outs from a CSV file; invalid lines are listed and skipped."""
    from leadgen.db import write_scope
    from leadgen.outreach.optout import import_csv

    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    with write_scope(get_engine(ctx)) as session:
        report = import_csv(session, text, source=f"import:{file.name}")
    for error in report.errors:
        out_console.print(f"skipped line {error.id}: {error.reason}: {error.key!r}")
    out_console.print(f"added {report.added}, already listed {report.already}, invalid {len(report.errors)}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Print the registry: kind, value (hashes shortened), source, reason, when added."""
    from leadgen.db import read_scope
    from leadgen.db.models import OptOutKind
    from leadgen.outreach.optout import list_opt_outs

    with read_scope(get_engine(ctx)) as session:
        rows = list(list_opt_outs(session))
        for row in rows:
            value = f"sha256:{row.value[:12]}…" if row.kind == OptOutKind.EMAIL_HASH else row.value
            added = row.created_at.strftime("%Y-%m-%d %H:%M") if row.created_at else ""
            out_console.print(
                f"{row.kind.value}\t{value}\t{row.source or ''}\t{row.reason or ''}\t{added}", soft_wrap=True
            )
    out_console.print(f"{len(rows)} entries")


@app.command("remove")
def remove(
    ctx: typer.Context,
    value: Annotated[
        str, typer.Argument(help="The email or domain to remove (hashes of forgotten emails stay).")
    ],
) -> None:
    """Remove an email or domain entry (for entries added by mistake)."""
    from leadgen.db import write_scope
    from leadgen.outreach.optout import classify_value, remove_opt_out

    parsed = classify_value(value)
    if parsed is None:
        fail(f"not an email address or a domain: {value!r}")
    with write_scope(get_engine(ctx)) as session:
        removed = remove_opt_out(session, parsed[1])
    out_console.print(f"removed {removed}")


def forget_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address to erase.")],
) -> None:
    """Erase EMAIL everywhere (contacts, messages, SERP and site text) and keep only its hash as an opt-out."""
    from leadgen.db import write_scope
    from leadgen.outreach.forget import forget

    with write_scope(get_engine(ctx)) as session:
        report = forget(session, email, now=utc_now())
    out_console.print(
        f"forgotten: {report.contacts_deleted} contacts deleted, {report.messages_scrubbed} messages scrubbed, "
        f"{report.texts_redacted} texts redacted; suppressed as sha256:{report.email_hash[:12]}…"
    )
