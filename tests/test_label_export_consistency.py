"""An export taken while annotators label agrees with itself.

``prefdata annotate export`` opens the database read-only, as immutable when no ``-wal``
exists (so it leaves no side files). A writer that starts meanwhile and checkpoints
changes the file under such a reader: the export notices and reads again, so its files
all describe one state of the database.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from prefdata.annotate.export import export_labels
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.annotate.store_open import StoreError
from tests.annotate_data import kept_table


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "labels.sqlite"
    store = LabelStore(path)
    import_table(store, kept_table(4))
    store.record_label("p0000", "ann", choice="chosen", left_response="chosen")
    store.close()
    assert not Path(f"{path}-wal").exists()  # the last connection removed it
    return path


def _label_and_checkpoint(db: Path, pair_id: str, choice: Any = "rejected") -> None:
    writer = LabelStore(db)
    writer.record_label(pair_id, "bob", choice=choice, left_response="chosen")
    writer.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()


def test_a_label_written_during_an_export_is_in_every_file_or_in_none(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = LabelStore(db, read_only=True)
    real_labels = LabelStore.labels
    calls = []

    def labels_then_someone_labels(self, *args, **kwargs):
        found = real_labels(self, *args, **kwargs)
        calls.append(len(found))
        if len(calls) == 1:  # an annotator labels, and SQLite checkpoints, mid-export
            _label_and_checkpoint(db, "p0001")
        return found

    monkeypatch.setattr(LabelStore, "labels", labels_then_someone_labels)
    summary = export_labels(reader, tmp_path / "out")
    assert calls[0] == 1 and calls[-1] == 2  # read again after the file changed
    out = tmp_path / "out"
    labelled = pq.read_table(out / "labelled.parquet").num_rows
    notes = pq.read_table(out / "annotations.parquet").num_rows
    events = pq.read_table(out / "events.parquet").to_pylist()
    agreement = json.loads((out / "agreement.json").read_text())
    assert summary.annotations == notes == 2 and labelled == summary.labelled_pairs == 2
    assert {e["pair_id"] for e in events if e["pair_id"]} >= {"p0000", "p0001"}
    assert "bob" in json.dumps(agreement)


def test_a_database_that_never_stops_changing_is_named_in_one_line(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = LabelStore(db, read_only=True)
    real_labels = LabelStore.labels
    # bob keeps changing his mind on p0001: every read sees a different file
    choices = itertools.cycle(["rejected", "chosen"])

    def labels_while_labelling(self, *args, **kwargs):
        found = real_labels(self, *args, **kwargs)
        _label_and_checkpoint(db, "p0001", next(choices))
        return found

    monkeypatch.setattr(LabelStore, "labels", labels_while_labelling)
    with pytest.raises(StoreError, match="kept changing while it was read"):
        export_labels(reader, tmp_path / "out")
    assert not (tmp_path / "out" / "labelled.parquet").exists()


def test_a_writer_store_reads_one_snapshot_too(db: Path, tmp_path: Path) -> None:
    # the app exports through its own (writer) store: one read transaction covers it
    store = LabelStore(db)
    seen = store.consistent(lambda: store.connection().in_transaction)
    assert seen is True and not store.connection().in_transaction
    with pytest.raises(StoreError):
        store.consistent(lambda: store.connection().execute("SELECT * FROM no_such_table"))
    assert not store.connection().in_transaction
    assert isinstance(store.connection(), sqlite3.Connection)


def test_a_page_torn_by_a_checkpoint_is_read_again(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an immutable reader can meet a page a checkpoint is rewriting: SQLite calls it damaged
    reader = LabelStore(db, read_only=True)
    real_labels = LabelStore.labels
    torn: list[bool] = []

    def torn_once(self, *args, **kwargs):
        if not torn:
            torn.append(True)
            _label_and_checkpoint(db, "p0002")
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real_labels(self, *args, **kwargs)

    monkeypatch.setattr(LabelStore, "labels", torn_once)
    assert export_labels(reader, tmp_path / "out").annotations == 2


def test_a_damaged_file_that_did_not_change_is_still_reported(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def damaged(self, *args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(LabelStore, "labels", damaged)
    with pytest.raises(StoreError, match="is damaged"):
        export_labels(LabelStore(db, read_only=True), tmp_path / "out")
