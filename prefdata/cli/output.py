"""What every command shares: the consoles and the error-to-exit-status mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from prefdata.errors import PrefdataError

console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2  # bad arguments, unreadable input, invalid settings
EXIT_GATE = 1  # a validation gate failed (e.g. drop rate above the bound)
EXIT_EMPTY = 3  # the run finished but kept or wrote nothing (outputs are still written)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn library errors into one line on stderr and exit status 2."""
    try:
        yield
    except PrefdataError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing was published")
        raise typer.Exit(130) from None
