"""`prefdata report DIR`: rebuild report.html and README.md from an output folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from prefdata.cli.output import console, errors_to_exit
from prefdata.reporting import write_extras
from prefdata.results.atomic import write_error

FOLDER = typer.Argument(..., help="An output folder of `prefdata filter`.")


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        folder: Path = FOLDER,
    ) -> None:
        """Rebuild OUT/report.html and the dataset card OUT/README.md from report.json.

        Example: `prefdata report curated/`
        """
        with errors_to_exit():
            try:
                names = write_extras(folder)
            except OSError as exc:
                raise write_error(exc, folder) from exc
        console.print(f"wrote {', '.join(escape(str(folder / n)) for n in names)}")
