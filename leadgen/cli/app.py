"""Root `leadgen` app: global options, sub-app wiring and the error boundary of the CLI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from leadgen import __version__
from leadgen.cli import contacts as contacts_cli
from leadgen.cli import db as db_cli
from leadgen.cli import dedupe as dedupe_cli
from leadgen.cli import health as health_cli
from leadgen.cli import mailbox as mailbox_cli
from leadgen.cli import optout as optout_cli
from leadgen.cli import outreach as outreach_cli
from leadgen.cli import plan as plan_cli
from leadgen.cli import report as report_cli
from leadgen.cli import serp as serp_cli
from leadgen.cli import unsubscribe as unsubscribe_cli
from leadgen.cli import yandex as yandex_cli
from leadgen.cli.console import print_error
from leadgen.cli.context import load_settings
from leadgen.cli.failures import describe
from leadgen.cli.lazy import LAZY_COMMANDS, LazyCommand

if TYPE_CHECKING:
    from typer._click import Command, Context  # the Click that Typer vendors


class _RootGroup(TyperGroup):
    """The root group, noting whether the command line asks for help (`leadgen db --help` then loads no settings),
    and holding the commands from above the CLI (leadgen/cli/lazy.py) until one is used."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, target in LAZY_COMMANDS.items():
            self.add_command(LazyCommand(name, target), name)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta[_HELP_ASKED] = any(arg in ("--help", "-h") for arg in args)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand):
            command = command.load()
        return name, command, rest


_HELP_ASKED = "leadgen.help_asked"

app = typer.Typer(
    name="leadgen",
    cls=_RootGroup,
    help="Self-hosted B2B lead generation: plan, search, dedupe, enrich, write and send.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cli.app, name="db")
app.add_typer(contacts_cli.app, name="contacts")
app.command("enrich")(contacts_cli.enrich)
app.add_typer(outreach_cli.app, name="outreach")
app.add_typer(optout_cli.app, name="optout")
app.add_typer(mailbox_cli.app, name="mailbox")
app.add_typer(unsubscribe_cli.app, name="unsubscribe")
app.command("forget")(optout_cli.forget_command)
app.command("plan")(plan_cli.plan)
app.command("report")(report_cli.report)
app.add_typer(report_cli.export_app, name="export")
app.add_typer(yandex_cli.app, name="yandex")
app.add_typer(serp_cli.app, name="serp")
app.command(name="dedupe")(dedupe_cli.dedupe)
app.command(name="health")(health_cli.health)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadgen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    """leadgen command line. Settings come from the environment and `.env` (see .env.example)."""
    ctx.ensure_object(dict)
    # help needs no settings: `leadgen db --help` skips them (the command itself loads them when it runs)
    if ctx.resilient_parsing or ctx.meta.get(_HELP_ASKED):
        return
    from leadgen.logformat import log_formatter

    settings = load_settings()
    ctx.obj["settings"] = settings
    handler = logging.StreamHandler()  # stderr: stdout stays the command's output
    handler.setFormatter(log_formatter(settings.log_format))
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, settings.log_level), handlers=[handler]
    )
    # Alembic is imported by the command that needs it, after this: its import-time "setup plugin" lines stay quiet
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def main() -> None:
    """Console-script entry point: run the app and turn known failures, usage errors included, into one line on
    stderr (exit 2 for a bad setting or argument, 1 for a runtime failure)."""
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        described = describe(exc)
        if described is None:
            raise
        message, status = described
        if message:
            print_error(message)
        raise SystemExit(status) from None
    raise SystemExit(code if isinstance(code, int) else 0)
