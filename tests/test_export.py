"""Export: majority vote, flips, drops, adjudication, raw annotations, atomic files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata import schema
from prefdata.annotate.adjudication import adjudicate
from prefdata.annotate.export import export_labels, majority
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.errors import ConfigError
from tests.annotate_data import kept_table


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(6))
    return s


def _votes(store: LabelStore, pair: str, *choices: str) -> None:
    for i, choice in enumerate(choices):
        store.record_label(pair, f"ann{i}", choice=choice, left_response="chosen")  # type: ignore[arg-type]


def test_majority_needs_a_strict_winner() -> None:
    assert majority(["rejected", "rejected", "chosen"]) == "rejected"
    assert majority(["chosen", "tie"]) is None
    assert majority([]) is None


def test_export_flips_drops_and_counts(store: LabelStore, tmp_path: Path) -> None:
    _votes(store, "p0000", "chosen", "chosen")
    _votes(store, "p0001", "rejected", "rejected", "chosen")  # flipped
    _votes(store, "p0002", "tie", "tie")
    _votes(store, "p0003", "both_bad")
    _votes(store, "p0004", "chosen", "rejected")  # no majority
    _votes(store, "p0005", "skip")  # skips are not votes
    out = tmp_path / "out"
    summary = export_labels(store, out)

    assert (summary.labelled_pairs, summary.kept_as_is, summary.flipped) == (2, 1, 1)
    assert (summary.dropped_tie, summary.dropped_both_bad, summary.dropped_no_majority) == (1, 1, 1)
    table = pq.read_table(out / "labelled.parquet")
    assert table.column_names[:4] == list(schema.CANONICAL)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert set(rows) == {"p0000", "p0001"}
    assert rows["p0001"]["chosen"] == "A sloppy answer number 1."  # people preferred it
    assert rows["p0001"]["rejected"].startswith("A careful")
    assert rows["p0001"]["flipped"] is True
    assert rows["p0001"]["vote_share"] == pytest.approx(2 / 3)
    assert rows["p0000"]["lang"] == "en"  # extra columns carried

    annotations = pq.read_table(out / "annotations.parquet")
    assert annotations.num_rows == 11
    assert "skip" in annotations.column("choice").to_pylist()
    assert pq.read_table(out / "events.parquet").num_rows == 11
    agreement = json.loads((out / "agreement.json").read_text())
    assert agreement["n_votes"] == 10
    assert json.loads((out / "export_summary.json").read_text())["flipped"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_min_votes_leaves_out_thin_pairs(store: LabelStore, tmp_path: Path) -> None:
    _votes(store, "p0000", "chosen", "chosen")
    _votes(store, "p0001", "chosen")
    summary = export_labels(store, tmp_path / "out", min_votes=2)
    assert (summary.labelled_pairs, summary.dropped_too_few_votes) == (1, 1)
    ids = pq.read_table(tmp_path / "out" / "labelled.parquet").column("id").to_pylist()
    assert ids == ["p0000"]


def test_adjudication_overrides_the_vote(store: LabelStore, tmp_path: Path) -> None:
    _votes(store, "p0000", "chosen", "rejected")
    adjudicate(store, "p0000", "lead", choice="rejected", note="B cites the source")
    summary = export_labels(store, tmp_path / "out")
    assert summary.flipped == 1
    row = pq.read_table(tmp_path / "out" / "labelled.parquet").to_pylist()[0]
    assert (row["id"], row["adjudicated"], row["flipped"]) == ("p0000", True, True)


def test_conversational_pairs_export_in_their_shape(tmp_path: Path) -> None:
    def turn(text: str) -> list[dict[str, str]]:
        return [{"role": "assistant", "content": text}]

    table = pa.table(
        {
            "id": ["c0"],
            "prompt": pa.array([[{"role": "user", "content": "hi"}]], schema.MESSAGES),
            "chosen": pa.array([turn("hello!")], schema.MESSAGES),
            "rejected": pa.array([turn("go away")], schema.MESSAGES),
        }
    )
    store = LabelStore(tmp_path / "labels.sqlite")
    import_table(store, table)
    store.record_label("c0", "a", choice="rejected", left_response="chosen")
    export_labels(store, tmp_path / "out")
    written = pq.read_table(tmp_path / "out" / "labelled.parquet")
    assert written.schema.field("chosen").type == schema.MESSAGES
    assert written.column("chosen").to_pylist() == [turn("go away")]


def test_empty_store_exports_an_empty_canonical_file(store: LabelStore, tmp_path: Path) -> None:
    export_labels(store, tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / "labelled.parquet")
    assert table.num_rows == 0
    assert table.column_names[:4] == list(schema.CANONICAL)


def test_min_votes_must_be_positive(store: LabelStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="min_votes must be >= 1, got 0"):
        export_labels(store, tmp_path, min_votes=0)
