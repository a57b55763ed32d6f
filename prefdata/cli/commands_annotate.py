"""`prefdata annotate import|export` and `prefdata app`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from prefdata.cli.output import console, errors_to_exit

annotate_app = typer.Typer(
    help="Human labelling: load pairs into a label database and export the labels.",
    no_args_is_help=True,
)


@annotate_app.command("import")
def import_command(
    data: Annotated[
        list[Path],
        typer.Argument(help="Curated Parquet files, or a `prefdata filter` output folder."),
    ],
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Label database (default: labels.sqlite beside the data)."),
    ] = None,
) -> None:
    """Import pairs into the label database; importing the same data again changes nothing."""
    with errors_to_exit():
        from prefdata.annotate.app_launch import default_db, expand_data
        from prefdata.annotate.label_store import LabelStore
        from prefdata.annotate.pair_import import import_parquet

        files = expand_data(data)  # refuses an incomplete result before making a database
        store = LabelStore(db or default_db(data))
        for path in files:
            result = import_parquet(store, path)
            console.print(
                f"{path}: {result.inserted} new, {result.unchanged} already present"
                + (
                    f", {len(result.conflicting)} with different content kept as stored"
                    if result.conflicting
                    else ""
                ),
                highlight=False,
            )
        console.print(f"database: {store.path}", highlight=False)


@annotate_app.command("export")
def export_command(
    db: Annotated[Path, typer.Option("--db", help="Label database.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for labelled.parquet, annotations.parquet, agreement.json."
        ),
    ],
    min_votes: Annotated[
        int, typer.Option("--min-votes", help="Leave out pairs with fewer votes than this.")
    ] = 1,
) -> None:
    """Write the labelled dataset (majority vote, flipped where rejected won) and the raw labels."""
    with errors_to_exit():
        from prefdata.annotate.export import export_labels
        from prefdata.annotate.label_store import LabelStore
        from prefdata.errors import InputError

        if not db.is_file():
            raise InputError(f"no label database at {db}: run `prefdata annotate import` first")
        summary = export_labels(LabelStore(db), out, min_votes=min_votes)
        console.print(
            f"{summary.labelled_pairs} labelled pairs ({summary.flipped} flipped) -> "
            f"{out / 'labelled.parquet'}; left out: {summary.dropped_tie} tie, "
            f"{summary.dropped_both_bad} both bad, {summary.dropped_no_majority} no majority, "
            f"{summary.dropped_too_few_votes} under {min_votes} vote(s); "
            f"{summary.annotations} annotations",
            highlight=False,
        )


def app_command(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Curated Parquet file or filter output folder (repeatable)."),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Label database (default: labels.sqlite beside the data)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to serve on (default: Streamlit's, 8501).")
    ] = None,
    guidelines: Annotated[
        Path | None,
        typer.Option("--guidelines", help="Markdown file shown as the guidelines panel."),
    ] = None,
    annotators: Annotated[
        list[str] | None,
        typer.Option("--annotators", help="Allowed annotator names, comma-separated or repeated."),
    ] = None,
    overlap: Annotated[
        int,
        typer.Option("--overlap", help="Votes wanted per pair before the queue stops serving it."),
    ] = 1,
    address: Annotated[
        str, typer.Option("--address", help="Interface to listen on.")
    ] = "localhost",
    queue: Annotated[
        list[Path] | None,
        typer.Option(
            "--queue", help="Review queue from `prefdata audit` (served first; repeatable)."
        ),
    ] = None,
) -> None:
    """Start the annotation app on the given data and label database."""
    with errors_to_exit():
        from prefdata.annotate.app_launch import (
            AppSettings,
            app_environment,
            default_db,
            expand_data,
            parse_annotators,
            streamlit_command,
        )
        from prefdata.annotate.label_store import LabelStore
        from prefdata.annotate.pair_import import import_parquet
        from prefdata.annotate.review_queue import import_review_queue
        from prefdata.errors import require

        require("streamlit", "app")
        files = expand_data(data or [])
        db_path = db or default_db(data or queue or [])
        store = LabelStore(db_path)
        for path in files:
            import_parquet(store, path)
        for path in queue or []:
            import_review_queue(store, path)
        if store.pair_count() == 0:
            from prefdata.errors import InputError

            raise InputError(f"{db_path} holds no pairs: pass --data with curated Parquet")
        settings = AppSettings(
            db=db_path,
            data=files,
            guidelines=guidelines,
            annotators=parse_annotators(annotators or []),
            overlap=overlap,
        )
        command = streamlit_command(settings, port=port, address=address)
    console.print(f"serving {store.pair_count()} pairs from {db_path}", highlight=False)
    try:
        status = subprocess.call(command, env=app_environment())
    except KeyboardInterrupt:  # Ctrl-C reaches streamlit too; it stops on its own
        status = 130
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add `annotate import|export` and `app` to the CLI."""
    app.add_typer(annotate_app, name="annotate")
    app.command("app")(app_command)
