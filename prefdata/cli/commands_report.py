"""`prefdata report DIR`: rebuild report.html and README.md from an output folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from prefdata.cli.output import console, errors_to_exit
from prefdata.reporting import write_extras

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
            names = write_extras(folder)
        console.print(f"wrote {', '.join(escape(str(folder / n)) for n in names)}")
