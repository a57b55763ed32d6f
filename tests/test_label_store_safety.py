"""The label store checks a file before touching it.

A foreign SQLite file is refused and left byte-identical, a read-only file or folder
still exports, a damaged file is named with PRAGMA quick_check's finding, and a
database of the first release (schema 1, built here from that release's DDL) is
upgraded by the numbered migration with its labels intact.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.annotate.export import export_labels
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.annotate.store_open import StoreError, schema_version
from prefdata.annotate.store_schema import APPLICATION_ID, SCHEMA_VERSION
from prefdata.cli.main import app
from tests.annotate_data import kept_table

runner = CliRunner()

# The label schema exactly as released at commit f8b47b3 (prefdata/annotate/store_schema.py),
# before databases were stamped with application_id / user_version.
RELEASE_1_SCHEMA = """
CREATE TABLE IF NOT EXISTS pairs (
    pair_id TEXT PRIMARY KEY,
    shape TEXT NOT NULL,
    prompt TEXT,            -- JSON: a string, or a list of {role, content} messages
    chosen TEXT,
    rejected TEXT,
    extra TEXT NOT NULL DEFAULT '{}',    -- the input's other columns, as JSON
    pool TEXT NOT NULL,                  -- 'kept' or 'dropped' (the filter's verdict)
    reasons TEXT NOT NULL DEFAULT '[]',  -- the filter's reason codes, as JSON
    queueable INTEGER NOT NULL,          -- 1 when it may be served to annotators
    n_votes INTEGER NOT NULL DEFAULT 0,  -- labels other than skips, kept in step by writes
    imported_at TEXT NOT NULL
);
-- The queue walks this index from the least-annotated pair in import order (rowid).
CREATE INDEX IF NOT EXISTS pairs_queue ON pairs (queueable, n_votes);

CREATE TABLE IF NOT EXISTS labels (
    pair_id TEXT NOT NULL REFERENCES pairs (pair_id),
    annotator TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('chosen', 'rejected', 'tie', 'both_bad', 'skip')),
    strength TEXT CHECK (strength IS NULL OR strength IN ('slightly', 'much')),
    left_response TEXT NOT NULL CHECK (left_response IN ('chosen', 'rejected')),
    comment TEXT NOT NULL DEFAULT '',
    flagged INTEGER NOT NULL DEFAULT 0,
    skip_reason TEXT,
    seconds REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (pair_id, annotator)
);
CREATE INDEX IF NOT EXISTS labels_by_annotator ON labels (annotator, updated_at);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    annotator TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'change', 'skip', 'undo', 'adjudicate')),
    undoes INTEGER REFERENCES events (id),
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_annotator ON events (annotator, id);
CREATE INDEX IF NOT EXISTS events_undoes ON events (undoes);
-- The log is evidence: nothing may rewrite or remove it.
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- A pair handed out by the queue is held for a while, so two annotators working at
-- the same moment do not both get the last open slot of a pair.
CREATE TABLE IF NOT EXISTS claims (
    pair_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (pair_id, annotator)
);

CREATE TABLE IF NOT EXISTS adjudications (
    pair_id TEXT PRIMARY KEY REFERENCES pairs (pair_id),
    choice TEXT NOT NULL CHECK (choice IN ('chosen', 'rejected', 'tie', 'both_bad')),
    adjudicator TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);

-- Pairs `prefdata audit` found likely mislabelled (most negative margin first); the
-- queue serves them before every other pair, in rank order.
CREATE TABLE IF NOT EXISTS review_queue (
    pair_id TEXT PRIMARY KEY REFERENCES pairs (pair_id),
    rank INTEGER NOT NULL,
    margin REAL,            -- the trained model's implicit reward margin
    source TEXT NOT NULL,   -- the queue file's name
    queued_at TEXT NOT NULL
);
"""


def _one_line(result: object) -> str:
    text: str = result.output  # type: ignore[attr-defined]
    assert "Traceback" not in text
    return " ".join(text.split())


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """Another application's database, with a table name that clashes with ours."""
    folder = tmp_path / "other"
    folder.mkdir()
    path = folder / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE pairs (x INTEGER); INSERT INTO pairs VALUES (1);"
        "CREATE TABLE settings (k TEXT, v TEXT); INSERT INTO settings VALUES ('a', 'b');"
    )
    conn.close()
    return path


@pytest.mark.parametrize("app_id", [0, 0x12345678])
def test_a_foreign_sqlite_file_is_refused_and_left_byte_identical(
    foreign: Path, tmp_path: Path, app_id: int
) -> None:
    if app_id:
        conn = sqlite3.connect(foreign)
        conn.execute(f"PRAGMA application_id = {app_id}")
        conn.close()
    before = _files(foreign.parent)
    with pytest.raises(StoreError, match="another application") as caught:
        LabelStore(foreign)
    assert str(foreign) in str(caught.value) and "\n" not in str(caught.value)
    for command in (
        ["annotate", "export", "--db", str(foreign), "--out", str(tmp_path / "out")],
        ["annotate", "import", str(tmp_path / "kept.parquet"), "--db", str(foreign)],
    ):
        pq.write_table(kept_table(2), tmp_path / "kept.parquet")
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        assert "another application" in _one_line(result)
    # same files, same bytes: no WAL switch, no -wal/-shm side files, no new tables
    assert _files(foreign.parent) == before
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"just some text, not a database\n" * 10)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is not a SQLite database"):
        LabelStore(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_a_new_database_is_stamped(tmp_path: Path) -> None:
    path = tmp_path / "labels.sqlite"
    LabelStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert schema_version(path) == SCHEMA_VERSION


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.sqlite"
    LabelStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade prefdata"):
        LabelStore(path)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "labels.sqlite"
    store = LabelStore(path)
    import_table(store, kept_table(3))
    store.record_label("p0000", "ann", choice="rejected", left_response="chosen")
    store.record_label("p0001", "ann", choice="chosen", left_response="rejected")
    store.close()
    return path


def _export_ok(db: Path, out: Path) -> None:
    result = runner.invoke(app, ["annotate", "export", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 labelled pairs (1 flipped)" in _one_line(result)
    assert pq.read_table(out / "labelled.parquet").num_rows == 2


@pytest.mark.parametrize("what", ["file", "folder"])
def test_export_works_on_a_read_only_database(labelled: Path, tmp_path: Path, what: str) -> None:
    target = labelled if what == "file" else labelled.parent
    before = _files(labelled.parent)
    mode = target.stat().st_mode
    target.chmod(
        stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR if what == "folder" else 0)
    )
    try:
        _export_ok(labelled, tmp_path / f"out_{what}")
        # nothing written: same bytes, and no -wal/-shm side files
        assert _files(labelled.parent) == before
    finally:
        target.chmod(mode)


def _run_as_nobody(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        user=65534,
        group=65534,
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=120,
    )


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop to nobody"
)
def test_export_by_a_user_who_cannot_write_the_file_or_folder(labelled: Path) -> None:
    """Root ignores permission bits, so the real denial is checked as user nobody."""
    shared = Path(tempfile.mkdtemp(prefix="prefdata_ro_"))
    try:
        shared.chmod(0o755)
        db = shared / "labels.sqlite"
        db.write_bytes(labelled.read_bytes())
        db.chmod(0o444)
        out = shared / "out"
        out.mkdir()
        out.chmod(0o777)
        code = (
            "from prefdata.annotate.export import export_labels\n"
            "from prefdata.annotate.label_store import LabelStore\n"
            f"s = export_labels(LabelStore({str(db)!r}, read_only=True), {str(out)!r})\n"
            "print(s.labelled_pairs)\n"
        )
        shared.chmod(0o555)  # nobody may write the database's folder either
        try:
            result = _run_as_nobody(code, shared)
        except PermissionError:
            pytest.skip(f"user nobody cannot run {sys.executable}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"
        # A write through the same path fails in one line naming the file.
        write = f"from prefdata.annotate.label_store import LabelStore\nLabelStore({str(db)!r})\n"
        failed = _run_as_nobody(write, shared)
        assert failed.returncode != 0
        assert "read-only" in failed.stderr or "cannot open" in failed.stderr
    finally:
        shared.chmod(0o755)
        shutil.rmtree(shared, ignore_errors=True)


def _corrupt(path: Path) -> None:
    """Overwrite the second page (the first table's b-tree root) with noise."""
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as handle:
        handle.seek(page * 2 + 8)
        handle.write(bytes(range(256)) * 4)


def test_a_damaged_database_is_named_with_quick_check_finding(
    labelled: Path, tmp_path: Path
) -> None:
    _corrupt(labelled)
    with pytest.raises(StoreError, match="PRAGMA quick_check") as caught:
        LabelStore(labelled, read_only=True)
    message = str(caught.value)
    assert str(labelled) in message and "\n" not in message and "ok)" not in message
    result = runner.invoke(
        app, ["annotate", "export", "--db", str(labelled), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "is damaged (PRAGMA quick_check:" in _one_line(result)
    assert not (tmp_path / "out").exists()


def test_sqlite_errors_during_a_write_are_one_line(labelled: Path) -> None:
    store = LabelStore(labelled, read_only=True)
    with pytest.raises(StoreError, match="read-only") as caught:
        store.record_label("p0002", "ann", choice="chosen", left_response="chosen")
    assert str(labelled) in str(caught.value)


def _release_1_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(RELEASE_1_SCHEMA)
    conn.executescript(
        "INSERT INTO pairs (pair_id, shape, prompt, chosen, rejected, pool, queueable, n_votes,"
        " imported_at) VALUES ('q1', 'text', '\"hi\"', '\"a\"', '\"b\"', 'kept', 1, 1, 't'),"
        " ('q2', 'text', '\"yo\"', '\"c\"', '\"d\"', 'kept', 1, 0, 't');"
        "INSERT INTO labels (pair_id, annotator, choice, left_response, created_at, updated_at)"
        " VALUES ('q1', 'ann', 'rejected', 'chosen', 't', 't');"
        "INSERT INTO events (at, annotator, pair_id, kind, payload)"
        " VALUES ('t', 'ann', 'q1', 'label', '{}');"
    )
    conn.close()


def test_a_release_1_database_is_read_as_is_and_upgraded_on_write(tmp_path: Path) -> None:
    path = tmp_path / "labels.sqlite"
    _release_1_database(path)
    assert schema_version(path) == 1
    # Reading (export) does not upgrade: the file stays at schema 1.
    before = path.read_bytes()
    summary = export_labels(LabelStore(path, read_only=True), tmp_path / "out")
    assert (summary.labelled_pairs, summary.flipped) == (1, 1)
    listed = runner.invoke(app, ["annotate", "user", "list", "--db", str(path)])
    assert listed.exit_code == 0 and listed.output == ""
    assert path.read_bytes() == before
    # Opening for writing runs migration 1 -> 2 and keeps every row.
    store = LabelStore(path)
    assert schema_version(path) == SCHEMA_VERSION
    conn = store.connection()
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "screens", "review_queue"} <= tables
    assert [(lab.pair_id, lab.choice) for lab in store.labels()] == [("q1", "rejected")]
    assert store.record_label("q2", "bob", choice="tie", left_response="chosen") == "label"
    assert store.pair("q2").n_votes == 1
    assert len(store.events()) == 2
    # The upgraded database has the same tables and columns as a new one.
    fresh = LabelStore(tmp_path / "fresh.sqlite").connection()
    assert _schema_of(conn) == _schema_of(fresh)


def _schema_of(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: [c[1] for c in conn.execute(f"PRAGMA table_info({n})")] for n in sorted(names)}
