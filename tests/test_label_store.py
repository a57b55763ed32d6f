"""The SQLite label store: upserts, the event log, undo, import and concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet, import_table
from prefdata.errors import ConfigError, InputError
from tests.annotate_data import kept_table, write_dropped, write_kept


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(5))
    return s


def test_database_uses_wal_and_a_busy_timeout(store: LabelStore) -> None:
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_resubmitting_a_label_keeps_one_row_and_logs_once(store: LabelStore) -> None:
    first = store.record_label("p0000", "ann", choice="chosen", left_response="rejected")
    again = store.record_label("p0000", "ann", choice="chosen", left_response="rejected")
    assert (first, again) == ("label", "unchanged")
    assert len(store.labels()) == 1
    assert [e["kind"] for e in store.events()] == ["label"]
    assert store.pair("p0000").n_votes == 1


def test_changing_a_label_updates_the_row_and_logs_a_change(store: LabelStore) -> None:
    store.record_label("p0000", "ann", choice="chosen", left_response="chosen")
    kind = store.record_label(
        "p0000", "ann", choice="rejected", left_response="chosen", strength="much", comment="hm"
    )
    assert kind == "change"
    (label,) = store.labels()
    assert (label.choice, label.strength, label.comment) == ("rejected", "much", "hm")
    assert store.pair("p0000").n_votes == 1


def test_skip_is_stored_but_is_not_a_vote(store: LabelStore) -> None:
    kind = store.record_label(
        "p0001", "ann", choice="skip", left_response="chosen", skip_reason="unsure"
    )
    assert kind == "skip"
    assert store.label("p0001", "ann").skip_reason == "unsure"  # type: ignore[union-attr]
    assert store.pair("p0001").n_votes == 0


def test_undo_reverts_newest_first_and_restores_a_changed_label(store: LabelStore) -> None:
    store.record_label("p0000", "ann", choice="chosen", left_response="chosen")
    store.record_label("p0001", "ann", choice="tie", left_response="chosen")
    store.record_label("p0000", "ann", choice="rejected", left_response="chosen")  # change
    store.record_label("p0000", "other", choice="chosen", left_response="chosen")

    assert store.undo_last("ann") == "p0000"
    assert store.label("p0000", "ann").choice == "chosen"  # type: ignore[union-attr]
    assert store.undo_last("ann") == "p0001"
    assert store.label("p0001", "ann") is None
    assert store.undo_last("ann") == "p0000"
    assert store.label("p0000", "ann") is None
    assert store.undo_last("ann") is None
    # The other annotator's label is untouched and the counters follow the rows.
    assert store.label("p0000", "other") is not None
    assert store.pair("p0000").n_votes == 1
    kinds = [e["kind"] for e in store.events(annotator="ann")]
    assert kinds == ["label", "label", "change", "undo", "undo", "undo"]


def test_event_log_is_append_only(store: LabelStore) -> None:
    store.record_label("p0000", "ann", choice="chosen", left_response="chosen")
    conn = store.connection()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET kind = 'skip'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"choice": "left"}, "choice must be"),
        ({"choice": "tie", "strength": "much"}, "strength"),
        ({"choice": "chosen", "left_response": "A"}, "left_response"),
    ],
)
def test_bad_labels_are_refused(store: LabelStore, options: dict, message: str) -> None:
    kwargs = {"left_response": "chosen", **options}
    with pytest.raises(ConfigError, match=message):
        store.record_label("p0000", "ann", **kwargs)


def test_unknown_pair_and_blank_annotator_are_refused(store: LabelStore) -> None:
    with pytest.raises(InputError, match="no pair"):
        store.record_label("nope", "ann", choice="chosen", left_response="chosen")
    with pytest.raises(ConfigError, match="annotator name"):
        store.record_label("p0000", "  ", choice="chosen", left_response="chosen")


def test_reimport_is_idempotent_and_keeps_labels(tmp_path: Path) -> None:
    data = write_kept(tmp_path / "kept.parquet", 4)
    store = LabelStore(tmp_path / "labels.sqlite")
    assert import_parquet(store, data).inserted == 4
    store.record_label("p0000", "ann", choice="chosen", left_response="chosen")
    again = import_parquet(store, data)
    assert (again.inserted, again.unchanged, again.conflicting) == (0, 4, [])
    assert store.pair_count() == 4
    assert store.pair("p0000").n_votes == 1


def test_reimport_with_changed_content_keeps_the_stored_pair(store: LabelStore) -> None:
    changed = kept_table(1).set_column(2, "chosen", [["something else"]])
    result = import_table(store, changed)
    assert result.conflicting == ["p0000"]
    assert store.pair("p0000").chosen.startswith("A careful")


def test_dropped_set_is_imported_for_review_but_not_queued(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    result = import_parquet(store, write_dropped(tmp_path / "dropped.parquet"))
    assert result.inserted == 2  # the malformed record has nothing to show
    assert store.pair("d1").reasons == ["identical_pair"]
    assert store.pair("d1").pool == "dropped"
    assert store.pair_count(queueable_only=True) == 0
    assert "source_row" not in store.pair("d1").extra


def test_extra_columns_ride_along(store: LabelStore) -> None:
    assert store.pair("p0002").extra == {"lang": "en"}


def test_import_names_missing_columns(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['chosen'"):
        import_table(store, kept_table(1).drop_columns(["chosen"]))


def test_eight_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """8 threads x 500 labels on one database: every label and event is there."""
    store = LabelStore(tmp_path / "labels.sqlite")
    import_table(store, kept_table(500))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def annotate(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(500):
                store.record_label(
                    f"p{i:04d}",
                    f"ann{worker}",
                    choice=("chosen", "rejected", "tie")[(i + worker) % 3],  # type: ignore[arg-type]
                    left_response="chosen",
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=annotate, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    conn = store.connection()
    assert conn.execute("SELECT count(*) FROM labels").fetchone()[0] == 4000
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 4000
    per_pair = conn.execute("SELECT min(n_votes), max(n_votes) FROM pairs").fetchone()
    assert tuple(per_pair) == (8, 8)
