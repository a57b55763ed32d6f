"""Agreement figures, checked by hand and against the krippendorff package."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from prefdata.annotate.agreement import (
    agreement_report,
    cohen_kappa,
    disagreements,
    krippendorff_alpha_nominal,
    raw_agreement,
)
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table
from tests.annotate_data import kept_table

CODES = {"chosen": 0, "rejected": 1, "tie": 2, "both_bad": 3}


def test_cohen_kappa_matches_a_worked_example() -> None:
    # 10 items: observed 0.7, expected 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    a = ["chosen"] * 5 + ["rejected"] * 5
    b = ["chosen"] * 4 + ["rejected"] + ["chosen"] * 2 + ["rejected"] * 3
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["tie"], ["tie"]) is None  # no variation: undefined


def test_raw_agreement_averages_over_overlapping_items() -> None:
    items = {
        "p1": {"a": "chosen", "b": "chosen"},
        "p2": {"a": "chosen", "b": "rejected", "c": "chosen"},  # 1 of 3 annotator pairs agree
        "p3": {"a": "tie"},  # single vote: no overlap
    }
    assert raw_agreement(items) == pytest.approx((1 + 1 / 3) / 2)


def test_alpha_matches_the_reference_implementation() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(7)
    choices = list(CODES)
    items = {}
    for i in range(60):
        voters = rng.choice(["a", "b", "c", "d"], size=rng.integers(1, 5), replace=False)
        truth = choices[rng.integers(0, 4)]
        items[f"p{i}"] = {
            str(v): truth if rng.random() < 0.7 else choices[rng.integers(0, 4)] for v in voters
        }
    annotators = ["a", "b", "c", "d"]
    matrix = [
        [CODES[items[p][a]] if a in items[p] else np.nan for p in sorted(items)] for a in annotators
    ]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert krippendorff_alpha_nominal(items) == pytest.approx(expected)


def test_report_over_a_store(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    import_table(store, kept_table(4))
    # a always prefers the left response, b agrees on p0 and p1 and calls p2 a tie
    for pair, left in (("p0000", "chosen"), ("p0001", "rejected"), ("p0002", "chosen")):
        store.record_label(pair, "a", choice=left, left_response=left, seconds=2.0)  # type: ignore[arg-type]
    store.record_label("p0000", "b", choice="chosen", left_response="rejected", seconds=4.0)
    store.record_label("p0001", "b", choice="rejected", left_response="chosen", seconds=6.0)
    store.record_label("p0002", "b", choice="tie", left_response="chosen")
    store.record_label("p0003", "b", choice="skip", left_response="chosen", skip_reason="unsure")

    report = agreement_report(store)
    assert report.n_votes == 6
    assert report.n_items_overlapping == 3
    assert report.raw_agreement == pytest.approx(2 / 3)
    assert report.raw_agreement_decisive == pytest.approx(1.0)
    assert report.position_bias_by_annotator == {"a": 1.0, "b": 0.0}
    assert report.position_bias_left_wins == pytest.approx(3 / 5)
    assert report.label_distribution == {
        "chosen": 3,
        "rejected": 2,
        "tie": 1,
        "both_bad": 0,
        "skip": 1,
    }
    by_name = {a.annotator: a for a in report.annotators}
    assert (by_name["b"].labelled, by_name["b"].skipped, by_name["b"].median_seconds) == (3, 1, 5.0)
    assert set(report.cohen_kappa) == {"a vs b"}
    assert not math.isnan(report.krippendorff_alpha or 0.0)
    assert disagreements(store.labels()) == {"p0002": {"a": "chosen", "b": "tie"}}
