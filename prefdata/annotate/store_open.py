"""Opening a label database: look before touching.

A path handed to prefdata may be anything: another application's SQLite file, a
read-only copy, a damaged file. Before anything is written, the file is inspected
through a read-only connection (``file:...?mode=ro``): SQLite's header fields
``application_id`` and ``user_version`` say whether it is a prefdata label database
and which schema it has. Anything else is refused in one line and left byte for byte
as it was. The label database of the first release did not stamp those fields; it is
recognised by its tables and upgraded by an explicit, numbered step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from prefdata.annotate.store_schema import (
    APPLICATION_ID,
    LEGACY_TABLES,
    MIGRATIONS,
    SCHEMA_SQL,
    SCHEMA_VERSION,
)
from prefdata.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(InputError):
    """The label database cannot be used as it is; the message names the file and the fix."""


def schema_version(path: Path) -> int | None:
    """The prefdata schema version of the database at ``path``; None when there is no
    database yet (missing or empty file). Raises StoreError for any other file.

    Nothing is written: the header is read as bytes, then through a read-only connection.
    """
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return None
    if not path.is_file():
        raise StoreError(f"{path} is not a file: pass the label database's file name")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if head != SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not a SQLite database: pass a prefdata label database or a new file name"
        )
    conn = connect(path, read_only=True)
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if app_id == APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path} has label schema {version}, newer than this prefdata reads"
                    f" ({SCHEMA_VERSION}): upgrade prefdata"
                )
            return version
        if app_id != 0:
            raise StoreError(
                f"{path} belongs to another application (SQLite application_id {app_id:#x}):"
                " prefdata leaves it untouched; pass a new file name for the labels"
            )
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            return None  # a SQLite file with nothing in it yet
        if tables >= LEGACY_TABLES and _legacy_columns_match(conn):
            return 1
        shown = sorted(tables)[:5]
        raise StoreError(
            f"{path} is a SQLite database of another application (tables {shown}):"
            " prefdata leaves it untouched; pass a new file name for the labels"
        )
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None
    finally:
        conn.close()


def _legacy_columns_match(conn: sqlite3.Connection) -> bool:
    """The first release's tables have exactly these leading columns."""
    pairs = [r[1] for r in conn.execute("PRAGMA table_info(pairs)")]
    labels = [r[1] for r in conn.execute("PRAGMA table_info(labels)")]
    return pairs[:3] == ["pair_id", "shape", "prompt"] and labels[:3] == [
        "pair_id",
        "annotator",
        "choice",
    ]


def connect(
    path: Path, *, read_only: bool, timeout_s: float = 10.0, immutable: bool | None = None
) -> sqlite3.Connection:
    """A connection; read-only ones go through a ``mode=ro`` URI so SQLite cannot write.

    Reading a WAL database normally creates its ``-wal`` and ``-shm`` side files, which
    fails in a read-only folder and leaves files behind elsewhere. When there is no
    ``-wal`` file, no connection has the database open (the last one to close removes
    it), so the file is opened as immutable: read without locks or side files. A writer
    starting meanwhile only appends to its own ``-wal`` until a checkpoint, so a short
    read still sees the state it opened (``LabelStore.consistent`` checks that).
    ``immutable`` overrides that decision, for a caller that must know which it got.
    """
    if not read_only:
        # isolation_level=None: every write is one explicit transaction (see LabelStore.write).
        return sqlite3.connect(path, isolation_level=None, timeout=timeout_s)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if immutable is None:
        immutable = not Path(f"{path}-wal").exists()
    if immutable:
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout_s)


def create_or_upgrade(conn: sqlite3.Connection, path: Path, version: int | None) -> None:
    """Create the schema in a new database, or run the numbered upgrades from ``version``.

    Each step runs in one transaction together with the new ``user_version``, so a
    crash leaves the file at one version or the next, never between.
    """
    if version == SCHEMA_VERSION:
        return
    try:
        if version is None:
            _run_in_transaction(conn, SCHEMA_SQL, SCHEMA_VERSION)
            return
        for start in range(version, SCHEMA_VERSION):
            _run_in_transaction(conn, MIGRATIONS[start], start + 1)
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None


def _run_in_transaction(conn: sqlite3.Connection, script: str, new_version: int) -> None:
    conn.executescript(
        f"BEGIN IMMEDIATE;\n{script}\nPRAGMA application_id = {APPLICATION_ID};\n"
        f"PRAGMA user_version = {new_version};\nCOMMIT;"
    )


def quick_check(path: Path) -> str:
    """SQLite's ``PRAGMA quick_check`` finding for the file ('ok' when sound)."""
    try:
        conn = connect(path, read_only=True)
        try:
            rows = conn.execute("PRAGMA quick_check(3)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    return "; ".join(str(r[0]) for r in rows) or "ok"


def ensure_sound(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a damaged database before anything is read from it or written to it."""
    try:
        rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.Error as exc:
        raise StoreError(describe(path, exc)) from None
    finding = "; ".join(str(r[0]) for r in rows)
    if finding != "ok":
        raise StoreError(_damaged(path, finding))


def _damaged(path: Path, finding: str) -> str:
    return (
        f"{path} is damaged (PRAGMA quick_check: {' '.join(finding.split())}):"
        " restore it from a backup; the export of a damaged database would be incomplete"
    )


def describe(path: Path, exc: sqlite3.Error) -> str:
    """One line for a SQLite error on the label database, naming the file and the fix."""
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return _damaged(path, quick_check(path))
    if "readonly" in lowered or "read-only" in lowered:
        return f"{path} is read-only ({text}): this action writes labels; make the file writable"
    if "locked" in lowered or "busy" in lowered:
        return f"{path} is locked by another writer ({text}): retry, or stop the other process"
    if "unable to open" in lowered:
        return f"cannot open {path} ({text}): check the path and its folder's permissions"
    return f"SQLite error on {path}: {text}"
