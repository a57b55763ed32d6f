"""`prefdata report DIR`: rebuild report.html and README.md from an output folder."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer
from rich.markup import escape

from prefdata.cli.output import console, errors_to_exit
from prefdata.reporting import write_extras
from prefdata.results import FolderLock
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
        # a run publishing into the folder meanwhile would swap it away under us: hold
        # the lock runs take (a folder that is not there gets write_extras' message)
        lock = FolderLock(folder, then="then run `prefdata report` again")
        with errors_to_exit(), lock if folder.is_dir() else nullcontext():
            try:
                names = write_extras(folder)
            except OSError as exc:
                raise write_error(exc, folder) from exc
        console.print(f"wrote {', '.join(escape(str(folder / n)) for n in names)}")
