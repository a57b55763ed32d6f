"""The overlap-first queue: a pair with some votes but fewer than the overlap comes
before untouched pairs, so agreement is measurable early; review-queue pairs still lead."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prefdata.annotate.agreement import agreement_report
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.annotate.queue import next_pair
from prefdata.annotate.review_queue import import_review_queue
from prefdata.errors import ConfigError
from tests.annotate_data import kept_table


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(50))
    return s


def _label_next(store: LabelStore, who: str, *, overlap: int, order: str) -> str:
    pair = next_pair(store, who, overlap=overlap, order=order)
    assert pair is not None
    store.record_label(pair, who, choice="chosen", left_response="chosen")
    return pair


def test_a_pair_with_one_vote_goes_to_the_next_annotator_first(store: LabelStore) -> None:
    first = _label_next(store, "alice", overlap=2, order="overlap-first")
    assert next_pair(store, "bob", overlap=2) == first
    assert next_pair(store, "carol", overlap=2, order="breadth-first") != first


@pytest.mark.parametrize(("order", "overlapping"), [("overlap-first", 20), ("breadth-first", 0)])
def test_agreement_is_measurable_after_twenty_labels_each(
    store: LabelStore, order: str, overlapping: int
) -> None:
    # Two annotators taking turns, 20 labels each, --overlap 2.
    for _ in range(20):
        for who in ("alice", "bob"):
            _label_next(store, who, overlap=2, order=order)
    report = agreement_report(store)
    assert report.n_votes == 40
    assert report.n_items_overlapping == overlapping


def test_overlap_one_is_unchanged(store: LabelStore) -> None:
    a = _label_next(store, "alice", overlap=1, order="overlap-first")
    assert next_pair(store, "bob", overlap=1) not in (a, None)


def test_review_queue_pairs_still_come_first(store: LabelStore, tmp_path: Path) -> None:
    first = _label_next(store, "alice", overlap=2, order="overlap-first")
    audit = kept_table(2, start=40).append_column("audit_rank", [[1, 2]])
    pq.write_table(audit.append_column("margin", [[-2.0, -1.0]]), tmp_path / "audit.parquet")
    import_review_queue(store, tmp_path / "audit.parquet")
    assert next_pair(store, "bob", overlap=2) == "p0040"
    store.record_label("p0040", "bob", choice="tie", left_response="chosen")
    assert next_pair(store, "bob", overlap=2) == "p0041"
    store.record_label("p0041", "bob", choice="tie", left_response="chosen")
    assert next_pair(store, "bob", overlap=2) == first


def test_unknown_order_is_refused(store: LabelStore) -> None:
    with pytest.raises(ConfigError, match="queue order must be one of"):
        next_pair(store, "a", order="random")
