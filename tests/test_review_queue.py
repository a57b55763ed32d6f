"""Audited pairs in the label store: served first in rank order, shown with their margin,
exported through the same majority vote (a "rejected" verdict flips them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.annotate import app_launch
from prefdata.annotate.export import export_labels
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.queue import next_pair
from prefdata.annotate.review_queue import import_review_queue, review_entry
from prefdata.cli.main import app
from prefdata.errors import InputError
from tests.annotate_data import kept_table, write_kept


def write_audit(path: Path, ids: list[str], margins: list[float]) -> Path:
    """An audit queue over kept_table's pairs: the given ids, ranked in the given order."""
    table = kept_table(10)
    index = [table.column("id").to_pylist().index(i) for i in ids]
    queue = table.take(pa.array(index))
    queue = queue.append_column("margin", pa.array(margins, pa.float64()))
    queue = queue.append_column("audit_rank", pa.array(range(1, len(ids) + 1), pa.int64()))
    pq.write_table(queue, path)
    return path


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    store = LabelStore(tmp_path / "labels.sqlite")
    import_parquet(store, write_kept(tmp_path / "kept.parquet", 10))
    import_review_queue(store, write_audit(tmp_path / "audit.parquet", ["p0007", "p0003"],
                                           [-2.5, -0.5]))  # fmt: skip
    return store


def test_queued_pairs_come_first_in_rank_order_then_the_rest(store: LabelStore) -> None:
    served = []
    while (pair_id := next_pair(store, "ann")) is not None:
        served.append(pair_id)
        store.record_label(pair_id, "ann", choice="chosen", left_response="chosen")
    assert served[:2] == ["p0007", "p0003"]
    assert served[2:] == [f"p{i:04d}" for i in range(10) if i not in (3, 7)]
    entry = review_entry(store, "p0007")
    assert entry is not None and entry.rank == 1 and entry.margin == -2.5
    assert review_entry(store, "p0000") is None


def test_reimporting_is_idempotent(store: LabelStore, tmp_path: Path) -> None:
    result = import_review_queue(store, tmp_path / "audit.parquet")
    assert result.inserted == 0 and result.unchanged == 2
    assert store.pair_count() == 10


def test_corrected_labels_flip_audited_pairs_in_the_export(
    store: LabelStore, tmp_path: Path
) -> None:
    for pair_id in ("p0007", "p0003"):
        assert next_pair(store, "ann") == pair_id
        store.record_label(pair_id, "ann", choice="rejected", left_response="rejected")
    summary = export_labels(store, tmp_path / "export")
    assert summary.flipped == 2 and summary.labelled_pairs == 2
    labelled = pq.read_table(tmp_path / "export" / "labelled.parquet").to_pylist()
    original = {r["id"]: r for r in kept_table(10).to_pylist()}
    for row in labelled:
        assert row["flipped"] is True
        assert row["chosen"] == original[row["id"]]["rejected"]
        assert row["rejected"] == original[row["id"]]["chosen"]
    assert {r["id"]: r["margin"] for r in labelled} == {"p0007": -2.5, "p0003": -0.5}


def test_a_file_without_ranks_is_refused(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    with pytest.raises(InputError, match="audit_rank"):
        import_review_queue(store, write_kept(tmp_path / "kept.parquet", 2))


def test_app_command_imports_the_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_kept(tmp_path / "kept.parquet", 10)
    audit = write_audit(tmp_path / "audit.parquet", ["p0005"], [-1.0])
    monkeypatch.setattr(app_launch, "run_app", lambda cmd, env: 0)
    args = ["app", "--data", str(data), "--queue", str(audit), "--open"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    store = LabelStore(tmp_path / "labels.sqlite")
    assert store.pair_count() == 10
    assert next_pair(store, "ann") == "p0005"


def test_annotate_page_shows_the_margin(store: LabelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    testing = pytest.importorskip("streamlit.testing.v1")
    script = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--db", str(store.path), "--open"])
    at = testing.AppTest.from_file(str(script), default_timeout=30)
    at.session_state["annotator"] = "ann"
    at.run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Pair p0007") for c in captions)
    assert any("Review queue #1" in c and "-2.5000" in c for c in captions)
