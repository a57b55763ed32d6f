"""The queue: least-annotated first, overlap, claims, and never a pair twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.annotate.queue import next_pair, progress, release
from prefdata.errors import ConfigError
from tests.annotate_data import kept_table


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(4))
    return s


def _label(store: LabelStore, pair_id: str, who: str, choice: str = "chosen") -> None:
    store.record_label(pair_id, who, choice=choice, left_response="chosen")  # type: ignore[arg-type]


def test_breadth_first_serves_least_annotated_first_in_import_order(store: LabelStore) -> None:
    _label(store, "p0000", "x")
    _label(store, "p0001", "x")
    assert next_pair(store, "ann", overlap=3, order="breadth-first") == "p0002"


def test_never_serves_a_pair_the_annotator_did_or_skipped(store: LabelStore) -> None:
    seen = []
    while (pair := next_pair(store, "ann", overlap=2)) is not None:
        seen.append(pair)
        choice = "skip" if len(seen) % 2 else "tie"
        _label(store, pair, "ann", choice)
    assert sorted(seen) == ["p0000", "p0001", "p0002", "p0003"]


def test_overlap_caps_votes_per_pair(store: LabelStore) -> None:
    for who in ("a", "b"):
        for pair in ("p0000", "p0001", "p0002", "p0003"):
            _label(store, pair, who)
    assert next_pair(store, "c", overlap=2) is None
    assert next_pair(store, "c", overlap=3) == "p0000"


def test_a_claimed_pair_is_held_for_its_annotator(store: LabelStore) -> None:
    first = next_pair(store, "a", overlap=1)
    assert next_pair(store, "a", overlap=1) == first  # a reload shows the same pair
    assert next_pair(store, "b", overlap=1) != first  # its only slot is taken
    release(store, "a", first)  # type: ignore[arg-type]
    assert next_pair(store, "c", overlap=1) == first


def test_expired_claims_free_the_pair(store: LabelStore) -> None:
    first = next_pair(store, "a", overlap=1, claim_seconds=-1)
    assert next_pair(store, "b", overlap=1) == first


def test_exclude_moves_past_a_pair(store: LabelStore) -> None:
    first = next_pair(store, "a", overlap=1)
    assert next_pair(store, "a", overlap=1, exclude=(first,)) not in (first, None)  # type: ignore[arg-type]


def test_progress_counts_labels_skips_and_what_is_open(store: LabelStore) -> None:
    _label(store, "p0000", "ann")
    _label(store, "p0001", "ann", "skip")
    _label(store, "p0002", "other")
    result = progress(store, "ann", overlap=1)
    assert (result.labelled, result.skipped, result.remaining, result.done) == (1, 1, 1, 2)


def test_overlap_must_be_positive(store: LabelStore) -> None:
    with pytest.raises(ConfigError, match="overlap must be >= 1, got 0"):
        next_pair(store, "a", overlap=0)
