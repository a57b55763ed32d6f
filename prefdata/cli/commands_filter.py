"""`prefdata filter`, `validate` and `inspect`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the curation commands to the app."""
