"""Invariants of the label store under random label / change / skip / undo sequences."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefdata.annotate.label_store import CHOICES, LabelStore
from prefdata.annotate.pair_import import import_table
from tests.annotate_data import kept_table

PAIRS = ["p0000", "p0001", "p0002"]
ANNOTATORS = ["a", "b"]

actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("label"),
            st.sampled_from(PAIRS),
            st.sampled_from(ANNOTATORS),
            st.sampled_from(CHOICES),
        ),
        st.tuples(st.just("undo"), st.just(""), st.sampled_from(ANNOTATORS), st.just("")),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_counters_rows_and_undo_stay_consistent(steps: list[tuple[str, str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = LabelStore(Path(tmp) / "labels.sqlite")
        import_table(store, kept_table(3))
        expected: dict[tuple[str, str], list[str]] = {}  # (pair, annotator) -> label history
        stacks: dict[str, list[tuple[str, str]]] = {a: [] for a in ANNOTATORS}
        for kind, pair, who, choice in steps:
            if kind == "label":
                history = expected.setdefault((pair, who), [])
                if history and history[-1] == choice:
                    continue  # an identical resubmit is not an action
                store.record_label(pair, who, choice=choice, left_response="chosen")  # type: ignore[arg-type]
                history.append(choice)
                stacks[who].append((pair, choice))
            else:
                undone = store.undo_last(who)
                if stacks[who]:
                    last_pair, _ = stacks[who].pop()
                    assert undone == last_pair
                    expected[(last_pair, who)].pop()
                else:
                    assert undone is None
        rows = {(lab.pair_id, lab.annotator): lab.choice for lab in store.labels()}
        assert rows == {key: hist[-1] for key, hist in expected.items() if hist}
        for pair in PAIRS:
            votes = sum(1 for (p, _), c in rows.items() if p == pair and c != "skip")
            assert store.pair(pair).n_votes == votes
        store.close()
