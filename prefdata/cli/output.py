"""What every command shares: the consoles and the error-to-exit-status mapping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from prefdata.errors import PrefdataError

# a line longer than the terminal is left to the terminal to wrap, so that a log or a
# CI output holds each message, and each path in it, on one line (rich would break them
# at 80 columns where stdout is not a terminal); tables still fit the width
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_USAGE = 2  # bad arguments, unreadable input, invalid settings
EXIT_GATE = 1  # a validation gate failed (e.g. drop rate above the bound)
EXIT_EMPTY = 3  # the run finished but kept or wrote nothing (outputs are still written)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn library errors into one line on stderr and exit status 2."""
    try:
        yield
    except PrefdataError as exc:
        # one line even when a message carries another library's line breaks
        said = re.sub(r"\s*\n\s*", " ", str(exc)).strip()
        err_console.print(f"[bold red]error:[/] {escape(said)}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing was published")
        raise typer.Exit(130) from None
