"""Commands from above the CLI, added lazily: the module defining one is imported only when it runs or shows help.

The orchestration layer (`infra`) and the test harness (`sandbox`, `demo`, `bench`) import the CLI's consoles, never
the other way round: the root group lists them by name and one line of help, and imports the module on use. A
harness command on an install without the harness fails in one line that says which extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from leadgen.errors import ConfigurationError

if TYPE_CHECKING:
    from typer._click import Command  # the Click that Typer vendors


@dataclass(frozen=True, slots=True)
class LazyTarget:
    """Where a lazily added command lives: `module:attribute` (a Typer app, or a function for a single command)."""

    module: str
    attribute: str
    help: str  # its line in `leadgen --help`
    extra: str | None = None  # the pip extra that installs it (None: every install has it)
    needs: tuple[str, ...] = ()  # top-level packages it cannot run without (the extra's)


# name -> target, in the order `leadgen --help` lists them (after the commands of the product itself)
LAZY_COMMANDS: dict[str, LazyTarget] = {
    "infra": LazyTarget(
        "infra.cli",
        "app",
        "Prefect side: create or update the work pool, concurrency limits, variables and alert automations.",
    ),
    "demo": LazyTarget(
        "leadgen_sandbox.cli",
        "demo",
        "The whole pipeline in the loopback sandbox through Prefect, no credentials (dev tool).",
        extra="sandbox",
        needs=("leadgen_sandbox", "aiosmtpd"),
    ),
    "sandbox": LazyTarget(
        "leadgen_sandbox.cli",
        "app",
        "Loopback sandbox: Yandex Search API emulator, company site farm, SMTP sink and fake LLM (dev tool).",
        extra="sandbox",
        needs=("leadgen_sandbox", "aiosmtpd"),
    ),
    "bench": LazyTarget(
        "leadgen_bench.cli",
        "app",
        "Benchmarks run against the loopback sandbox: no credentials, no network (dev tool).",
        extra="sandbox",
        needs=("leadgen_bench", "leadgen_sandbox", "aiosmtpd"),
    ),
}


def _installed(name: str) -> bool:
    """Can the top-level package `name` be imported? (Found on the path, not imported.)"""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class LazyCommand(TyperCommand):
    """Stands in the root group for a command of `LAZY_COMMANDS` until it is used; `load` gives the real one."""

    def __init__(self, name: str, target: LazyTarget) -> None:
        super().__init__(name, help=target.help, short_help=target.help, add_help_option=False)
        self.target = target
        self._loaded: Command | None = None

    def load(self) -> Command:
        """Import the command's module and build its Click command (once); a missing extra is a one-line error."""
        if self._loaded is None:
            self._loaded = self._build()
        return self._loaded

    def _build(self) -> Command:
        target = self.target
        missing = next((name for name in target.needs if not _installed(name)), None)
        if missing is not None:
            raise ConfigurationError(
                f"`leadgen {self.name}` is a dev tool this installation lacks (no module {missing}): "
                f"pip install -e '.[{target.extra}]' in a leadgen checkout"
            )
        # with its packages installed, a failing import is a bug and raises as one
        found = getattr(importlib.import_module(target.module), target.attribute)
        if isinstance(found, typer.Typer):
            command: Command = typer.main.get_group(found)
        else:  # a function: a single command
            single = typer.Typer(add_completion=False)
            single.command()(found)
            command = typer.main.get_command(single)
        command.name = self.name
        return command
