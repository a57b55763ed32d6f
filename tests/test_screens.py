"""A label names its pair and is refused unless that pair is the one on the
annotator's screen, and has been long enough to be read (a doubled key press)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from prefdata.annotate.screens import StaleLabelError
from tests.annotate_data import kept_table


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(3))
    return s


def _label(store: LabelStore, pair: str, *, guard: float = 0.0) -> str:
    return store.record_label(
        pair, "ann", choice="chosen", left_response="chosen", on_screen_for=guard
    )


def test_a_label_for_the_pair_on_screen_is_stored(store: LabelStore) -> None:
    store.show("ann", "p0000")
    assert _label(store, "p0000") == "label"
    assert store.on_screen("ann") == "p0000"


def test_a_label_for_another_pair_than_the_one_on_screen_is_refused(store: LabelStore) -> None:
    store.show("ann", "p0000")
    _label(store, "p0000")
    store.show("ann", "p0001")  # the app moved on to the next pair
    with pytest.raises(StaleLabelError, match="screen shows pair 'p0001'"):
        _label(store, "p0000")  # the repeated key, still carrying the old pair
    with pytest.raises(StaleLabelError, match="screen shows nothing"):
        store.record_label("p0002", "bob", choice="tie", left_response="chosen", on_screen_for=0)
    assert [(lab.pair_id, lab.annotator) for lab in store.labels()] == [("p0000", "ann")]
    assert [e["kind"] for e in store.events()] == ["label"]


def test_a_label_sooner_than_the_guard_is_a_repeat_and_is_refused(store: LabelStore) -> None:
    store.show("ann", "p0001")
    with pytest.raises(StaleLabelError, match="repeated key press"):
        _label(store, "p0001", guard=5.0)
    assert store.labels() == []
    time.sleep(0.06)  # the guard below is measured from when the pair appeared
    assert _label(store, "p0001", guard=0.05) == "label"


def test_showing_the_same_pair_again_keeps_its_first_time(store: LabelStore) -> None:
    store.show("ann", "p0002")
    time.sleep(0.06)
    store.show("ann", "p0002")  # a rerun of the page
    assert _label(store, "p0002", guard=0.05) == "label"


def test_labels_without_the_check_are_unaffected(store: LabelStore) -> None:
    store.show("ann", "p0000")
    assert store.record_label("p0002", "ann", choice="tie", left_response="chosen") == "label"
