"""The ``prefdata`` command: one typer app, each command group in its own module.

Every command parses arguments, makes one call into the library and prints; library
errors become one line and exit status 2 through ``prefdata.cli.output.errors_to_exit``.
"""

from __future__ import annotations

import typer

from prefdata import __version__
from prefdata.cli import (
    commands_annotate,
    commands_convert,
    commands_filter,
    commands_iterate,
    commands_preflight,
    commands_report,
    commands_train,
)

app = typer.Typer(
    name="prefdata",
    help=(
        "Curate, validate, annotate and train on preference pairs "
        "(prompt / chosen / rejected).\n\n"
        "Start with `prefdata inspect FILE` to see how a file is read, then "
        "`prefdata filter FILE --out DIR` to write curated Parquet."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

# One line per command module: each module's register() adds its commands.
commands_filter.register(app)
commands_report.register(app)
commands_convert.register(app)
commands_annotate.register(app)
commands_train.register(app)
commands_iterate.register(app)
commands_preflight.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefdata {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Curate, validate, annotate and train on preference pairs."""


def main() -> None:
    """Entry point for the ``prefdata`` script."""
    app()
