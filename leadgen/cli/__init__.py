"""The `leadgen` command line: one root Typer app wiring one sub-app per command group."""

from leadgen.cli.app import app, main

__all__ = ["app", "main"]
