"""`leadgen sandbox up` and `leadgen demo`: the sandbox services in the foreground, and the demo run.

Added to the CLI lazily (leadgen/cli/lazy.py); `--help` imports none of the services, Prefect or the database.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from leadgen.cli.context import out_console
from leadgen.outputs import atomic_output, check_output

app = typer.Typer(
    help="Loopback sandbox: Yandex Search API emulator, company site farm, SMTP sink and fake LLM.",
    no_args_is_help=True,
    add_completion=False,
)


def dotenv_line(name: str, value: str) -> str:
    """`NAME='value'` with single quotes escaped the way python-dotenv reads them."""
    return f"{name}='{value.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"


@app.command()
def up(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Folder for the sandbox database, niches CSV and offer file.")
    ] = Path("./sandbox"),
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", help="Also write the settings pointing at the sandbox to this dotenv file."
        ),
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", min=0, help="Stop after this many seconds (0: run until Ctrl-C).")
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated SERPs and sites.")] = 1,
) -> None:
    """Start the four sandbox services on 127.0.0.1, print their addresses, and keep them running.

    Bounces (for the farm's dead mailboxes) and a reply come back into WORKDIR/maildir every few seconds.
    """
    from leadgen_sandbox.stack import SandboxStack, settings_env

    if env_file is not None:
        check_output(env_file)  # before anything starts: an unusable path fails in one line
    maildir = workdir.resolve() / "maildir"
    delivered = workdir.resolve() / "smtp-sink" / "delivered"
    # The sink creates the Maildir itself, but not its parents: without this every message got a 500.
    delivered.parent.mkdir(parents=True, exist_ok=True)
    with SandboxStack(seed=seed, maildir=maildir, sent_maildir=delivered) as stack:
        for name, url in stack.addresses().items():
            out_console.print(f"{name:<32} {url}", soft_wrap=True)
        out_console.print(f"{'sender mailbox (Maildir)':<32} {maildir}", soft_wrap=True)
        overrides = stack.settings_overrides(workdir.resolve())
        if env_file is not None:
            lines = [dotenv_line(k, v) for k, v in sorted(settings_env(overrides).items())]
            with atomic_output(env_file) as fh:
                fh.write("# leadgen sandbox settings (fake credentials)\n" + "\n".join(lines) + "\n")
            out_console.print(f"settings written to {env_file} (use: set -a; . {env_file}; set +a)")
        out_console.print(
            "sandbox running; press Ctrl-C to stop" if not seconds else f"running {seconds:g} s"
        )
        _serve(stack, seconds)
    out_console.print("sandbox stopped")


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Folder for the demo's databases (default: a temporary one)."),
    ] = None,
    results: Annotated[int, typer.Option("--results", min=1, max=50, help="Results per search page.")] = 5,
    twice: Annotated[
        bool, typer.Option("--twice/--once", help="Run the pipeline a second time to show it adds nothing.")
    ] = True,
) -> None:
    """Run plan → search → collect → enrich → outreach → report in the sandbox through Prefect, then read the
    bounces and the reply that came back, and print it all."""
    from leadgen_sandbox.demo_run import run_demo

    run_demo(workdir, results=results, twice=twice)


RETURNS_EVERY_SECONDS = 5.0


def _serve(stack: Any, seconds: float) -> None:
    """Keep the services up for `seconds` (0: until Ctrl-C), delivering owed DSNs and replies as it goes."""
    stop = threading.Event()
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            stop.wait(RETURNS_EVERY_SECONDS if left is None else min(left, RETURNS_EVERY_SECONDS))
            stack.sink.deliver_returns()
    except KeyboardInterrupt:
        pass
    stack.sink.deliver_returns()
