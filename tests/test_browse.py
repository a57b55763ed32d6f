"""The Browse table's filters, run in SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdata.annotate.adjudication import adjudicate
from prefdata.annotate.browse import BrowseFilter, browse_pairs, reasons_in_store
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet, import_table
from tests.annotate_data import kept_table, write_dropped


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.sqlite")
    import_table(s, kept_table(4))
    import_parquet(s, write_dropped(tmp_path / "dropped.parquet"))
    s.record_label("p0000", "ann", choice="chosen", left_response="chosen", flagged=True)
    s.record_label("p0001", "ann", choice="chosen", left_response="chosen")
    s.record_label("p0001", "bob", choice="tie", left_response="chosen")
    s.record_label("p0002", "bob", choice="skip", left_response="chosen")
    return s


def _ids(store: LabelStore, **filters: object) -> list[str]:
    return browse_pairs(store, BrowseFilter(**filters)).pair_id.tolist()  # type: ignore[arg-type]


def test_filters(store: LabelStore) -> None:
    assert reasons_in_store(store) == ["chosen_too_short", "identical_pair"]
    assert _ids(store, reason="identical_pair") == ["d1"]
    assert _ids(store, pool="dropped") == ["d0", "d1"]
    assert _ids(store, status="unlabelled") == ["p0003", "d0", "d1"]
    assert _ids(store, status="disagreement") == ["p0001"]
    assert _ids(store, status="skipped only") == ["p0002"]
    assert _ids(store, annotator="bob") == ["p0001", "p0002"]
    assert _ids(store, flagged_only=True) == ["p0000"]
    assert _ids(store, search="THING 3") == ["p0003"]
    assert _ids(store, search="100%_'") == []


def test_adjudicated_status_and_columns(store: LabelStore) -> None:
    adjudicate(store, "p0001", "lead", choice="chosen")
    table = browse_pairs(store, BrowseFilter(status="adjudicated"))
    assert table.pair_id.tolist() == ["p0001"]
    row = table.iloc[0]
    assert (row.votes, row.annotators) == (2, "ann, bob")
    assert row.prompt == "Question 1: explain thing 1."
