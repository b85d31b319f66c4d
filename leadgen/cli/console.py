"""The CLI's Rich consoles, with markup off: data (files, web, database, user input) is never read as markup.

Styling is opt-in through `styled`, which escapes every value it interpolates; `error_line` builds the one-line
`error: ...` message of every failure.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

# markup=False: a `[/x]` or `[bold]` inside a CSV cell, a path or an opt-out reason prints as it is.
out_console = Console(highlight=False, markup=False)
err_console = Console(stderr=True, highlight=False, markup=False)


def styled(template: str, /, *values: object) -> Text:
    """Rich markup `template` (written in code) with each `{}` filled by a value escaped so it stays text."""
    return Text.from_markup(template.format(*(escape(str(v)) for v in values)))


def one_line(message: object, /) -> str:
    """`message` on one line: line breaks become spaces (an error never spans several lines)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def error_line(message: object, /) -> Text:
    """`error: message` with the prefix in bold red and the message as plain text."""
    return Text.assemble(("error:", "bold red"), " ", one_line(message))


def print_error(message: object, /) -> None:
    """Print `error: message` on stderr, as one line, never interpreting markup in it."""
    err_console.print(error_line(message), soft_wrap=True)
