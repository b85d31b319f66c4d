"""`leadgen db ...`: apply and inspect schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from leadgen.cli.context import get_engine, out_console
from leadgen.db import migrate

app = typer.Typer(
    help="Database schema: migrate up or down, show the current revision.", no_args_is_help=True
)


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head). Safe to run again."""
    engine = get_engine(ctx)
    migrate.upgrade(engine, revision)
    out_console.print(f"database at revision {migrate.current_revision(engine)}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; `base` removes every table.")],
) -> None:
    """Revert migrations down to REVISION."""
    engine = get_engine(ctx)
    migrate.downgrade(engine, revision)
    out_console.print(f"database at revision {migrate.current_revision(engine) or 'base'}")


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the current revision and whether it is the newest one."""
    engine = get_engine(ctx)
    rev = migrate.current_revision(engine)
    head = migrate.head_revision(engine)
    state = "up to date" if rev == head else f"behind head {head}; run `leadgen db upgrade`"
    out_console.print(f"{rev or 'base (empty database)'} ({state})")
