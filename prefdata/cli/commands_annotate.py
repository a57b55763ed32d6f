"""`prefdata annotate import|export` and `prefdata app`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from prefdata.cli.output import console, errors_to_exit


@contextmanager
def _store_errors(db: Path | None) -> Iterator[None]:
    """Like errors_to_exit, and a SQLite error that escaped the store is one line too."""
    with errors_to_exit():
        try:
            yield
        except sqlite3.Error as exc:
            from prefdata.annotate.store_open import StoreError, describe

            raise StoreError(describe(db or Path("the label database"), exc)) from None


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
    with _store_errors(db):
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
    with _store_errors(db):
        from prefdata.annotate.export import export_labels
        from prefdata.annotate.label_store import LabelStore

        # Export only reads: opened read-only, it works on a read-only file or folder, and
        # the store itself refuses a missing file or another application's in one line.
        summary = export_labels(LabelStore(db, read_only=True), out, min_votes=min_votes)
        console.print(
            f"{summary.labelled_pairs} labelled pairs ({summary.flipped} flipped) -> "
            f"{out / 'labelled.parquet'}; left out: {summary.dropped_tie} tie, "
            f"{summary.dropped_both_bad} both bad, {summary.dropped_no_majority} no majority, "
            f"{summary.dropped_too_few_votes} under {min_votes} vote(s); "
            f"{summary.annotations} annotations",
            highlight=False,
        )


user_app = typer.Typer(
    help="Accounts and roles for the annotation app, stored in the label database.",
    no_args_is_help=True,
)

_DB_OPTION = typer.Option("--db", help="Label database.")


def _read_password() -> str:
    """The password from standard input: prompted twice on a terminal, else one line."""
    import getpass
    import sys

    from prefdata.errors import ConfigError

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("the two passwords differ; nothing was stored")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("add")
def user_add_command(
    name: Annotated[str, typer.Argument(help="Account name (shown on every label).")],
    db: Annotated[Path, _DB_OPTION],
    role: Annotated[
        str, typer.Option("--role", help="annotator (labels only) or lead (everything).")
    ] = "annotator",
    sso: Annotated[
        bool,
        typer.Option("--sso", help="No password: signs in through OIDC (`prefdata app --oidc`)."),
    ] = False,
) -> None:
    """Create an account; the password is read from standard input (stored as a salted hash)."""
    with _store_errors(db):
        from prefdata.annotate.accounts import add_user
        from prefdata.annotate.label_store import LabelStore

        store = LabelStore(db)
        password = None if sso else _read_password()
        user = add_user(store, name, role=role, password=password, sso_only=sso)
        console.print(f"added {user.role} {user.name!r} to {db}", highlight=False)


@user_app.command("list")
def user_list_command(db: Annotated[Path, _DB_OPTION]) -> None:
    """List the accounts and their roles."""
    with _store_errors(db):
        from prefdata.annotate.accounts import users
        from prefdata.annotate.label_store import LabelStore

        for user in users(LabelStore(db, read_only=True)):
            sign_in = "oidc" if user.sso_only else "password"
            console.print(
                f"{user.name}\t{user.role}\t{sign_in}\t{user.created_at}", highlight=False
            )


@user_app.command("remove")
def user_remove_command(
    name: Annotated[str, typer.Argument(help="Account name.")],
    db: Annotated[Path, _DB_OPTION],
) -> None:
    """Remove an account (their labels stay); a signed-in session ends at its next click."""
    with _store_errors(db):
        from prefdata.annotate.accounts import remove_user
        from prefdata.annotate.label_store import LabelStore

        remove_user(LabelStore(db), name)
        console.print(f"removed {name!r} from {db}", highlight=False)


annotate_app.add_typer(user_app, name="user")


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
    queue_order: Annotated[
        str,
        typer.Option(
            "--queue-order",
            help="overlap-first: pairs with some votes before untouched ones (agreement early);"
            " breadth-first: every pair one vote first.",
        ),
    ] = "overlap-first",
    open_mode: Annotated[
        bool,
        typer.Option(
            "--open", help="No login: name-only mode for one person on localhost (says so)."
        ),
    ] = False,
    oidc: Annotated[
        bool,
        typer.Option("--oidc", help="Sign in through Streamlit's st.login (OIDC); see README."),
    ] = False,
    session_hours: Annotated[
        float, typer.Option("--session-hours", help="A sign-in lasts this long.")
    ] = 8.0,
) -> None:
    """Start the annotation app on the given data and label database."""
    with _store_errors(db):
        from prefdata.annotate.accounts import users
        from prefdata.annotate.app_launch import (
            AppSettings,
            app_environment,
            check_sign_in,
            default_db,
            expand_data,
            parse_annotators,
            streamlit_command,
        )
        from prefdata.annotate.label_store import LabelStore
        from prefdata.annotate.pair_import import import_parquet
        from prefdata.annotate.review_queue import import_review_queue
        from prefdata.errors import InputError, require

        require("streamlit", "app")
        files = expand_data(data or [])
        db_path = db or default_db(data or queue or [])
        store = LabelStore(db_path)
        settings = AppSettings(
            db=db_path,
            data=files,
            guidelines=guidelines,
            annotators=parse_annotators(annotators or []),
            overlap=overlap,
            queue_order=queue_order,
            open_mode=open_mode,
            oidc=oidc,
            session_hours=session_hours,
        )
        check_sign_in(settings, address=address, accounts=len(users(store)))
        for path in files:
            import_parquet(store, path)
        for path in queue or []:
            import_review_queue(store, path)
        if store.pair_count() == 0:
            raise InputError(f"{db_path} holds no pairs: pass --data with curated Parquet")
        command = streamlit_command(settings, port=port, address=address)
    console.print(f"serving {store.pair_count()} pairs from {db_path}", highlight=False)
    if open_mode:
        console.print("open mode: no login; anyone reaching this port labels as anyone")
    from prefdata.annotate.app_launch import run_app

    raise typer.Exit(run_app(command, app_environment()))


def register(app: typer.Typer) -> None:
    """Add `annotate import|export|user` and `app` to the CLI."""
    app.add_typer(annotate_app, name="annotate")
    app.command("app")(app_command)
