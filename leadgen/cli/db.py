"""`leadgen db ...`: apply and inspect schema migrations."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from leadgen.cli.context import fail, get_engine, out_console

CONFIRM_WORD = "drop"  # typed at the terminal to confirm a downgrade that drops rows

app = typer.Typer(
    help="Database schema: migrate up or down, show the current revision.", no_args_is_help=True
)


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head). Safe to run again."""
    from leadgen.db import migrate  # Alembic loads only for `leadgen db ...`

    engine = get_engine(ctx)
    migrate.upgrade(engine, revision)
    out_console.print(f"database at revision {migrate.current_revision(engine)}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; `base` removes every table.")],
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Drop tables that hold rows without asking (needed when not a terminal)."),
    ] = False,
) -> None:
    """Revert migrations down to REVISION; asks first when that drops tables holding rows."""
    from leadgen.db import migrate  # Alembic loads only for `leadgen db ...`

    engine = get_engine(ctx)
    losing = {
        name: rows for name, rows in migrate.tables_dropped_by_downgrade(engine, revision).items() if rows
    }
    if losing and not yes:
        what = ", ".join(f"{name} ({rows} rows)" for name, rows in losing.items())
        question = f"downgrade to {revision} drops tables holding rows: {what}"
        if not sys.stdin.isatty():
            fail(f"{question}; pass --yes to confirm", code=2)
        out_console.print(question)
        answer = typer.prompt(f"type {CONFIRM_WORD} to drop them", default="", show_default=False)
        if answer.strip() != CONFIRM_WORD:
            fail("downgrade cancelled: nothing was changed", code=1)
    migrate.downgrade(engine, revision)
    out_console.print(f"database at revision {migrate.current_revision(engine) or 'base'}")


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the current revision and whether it is the newest one."""
    from leadgen.db import migrate  # Alembic loads only for `leadgen db ...`

    engine = get_engine(ctx)
    rev = migrate.current_revision(engine)
    head = migrate.head_revision(engine)
    state = "up to date" if rev == head else f"behind head {head}; run `leadgen db upgrade`"
    out_console.print(f"{rev or 'base (empty database)'} ({state})")
