"""difflib mode keeps exactly the pairs the reference design keeps; indel is exact.

The reference function below is the design's own, verbatim; the tests compare which
pairs each keeps, pair by pair, not only how many.
"""

from __future__ import annotations

import gzip
import json
from difflib import SequenceMatcher
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from prefdata.config import FilterConfig
from prefdata.dataset import DATASET_CHECKS
from prefdata.pipeline import filter_pairs
from prefdata.readers.layouts import split_hh
from tests.conftest import shared_file

# The reference design judges each pair alone: compare with the dataset-level checks off.
PER_PAIR_ONLY = list(DATASET_CHECKS)


def validate_preference_data(sample):  # type: ignore[no-untyped-def]
    if sample["chosen"] == sample["rejected"]:
        return False
    if len(sample["chosen"]) < 50 or len(sample["rejected"]) < 20:
        return False
    if SequenceMatcher(None, sample["chosen"], sample["rejected"]).ratio() > 0.9:  # noqa: SIM103
        return False
    return True


def _kept_rows(out: Path) -> set[int]:
    dropped = set(
        pq.read_table(out / "dropped.parquet", columns=["source_row"]).column(0).to_pylist()
    )
    total = pq.read_metadata(out / "kept.parquet").num_rows + len(dropped)
    return set(range(total)) - dropped


def test_difflib_parity_on_hh(tmp_path: Path) -> None:
    path = shared_file("hh-rlhf/harmless-base-test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    expected = set()
    for row, record in enumerate(records):
        _, chosen, rejected = split_hh(record["chosen"], record["rejected"])
        if validate_preference_data({"chosen": chosen, "rejected": rejected}):
            expected.add(row)
    filter_pairs([path], tmp_path, config=FilterConfig(similarity="difflib", disable=PER_PAIR_ONLY))
    assert _kept_rows(tmp_path) == expected
    assert len(expected) == 1738  # measured once; a change here means the rule changed


def test_difflib_parity_on_llamafactory(tmp_path: Path) -> None:
    path = shared_file("llamafactory/dpo_en_demo.json")
    records = json.loads(path.read_text(encoding="utf-8"))
    expected = {
        row
        for row, r in enumerate(records)
        if validate_preference_data(
            {"chosen": r["chosen"]["value"], "rejected": r["rejected"]["value"]}
        )
    }
    filter_pairs([path], tmp_path, config=FilterConfig(similarity="difflib", disable=PER_PAIR_ONLY))
    assert _kept_rows(tmp_path) == expected


texts = st.text(alphabet=st.sampled_from("ab cdé\n"), max_size=300)


@settings(max_examples=150, deadline=None)
@given(chosen=texts, rejected=texts)
def test_difflib_never_exceeds_indel(chosen: str, rejected: str) -> None:
    # the pre-filter's premise: only pairs above the threshold in Indel need difflib
    assert (
        SequenceMatcher(None, chosen, rejected).ratio() <= fuzz.ratio(chosen, rejected) / 100 + 1e-9
    )


@settings(max_examples=30, deadline=None)
@given(pairs=st.lists(st.tuples(texts, texts), min_size=1, max_size=25))
def test_difflib_mode_matches_reference_on_generated_pairs(tmp_path_factory, pairs) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("parity")
    data = folder / "pairs.jsonl"
    with open(data, "w", encoding="utf-8") as f:
        for chosen, rejected in pairs:
            f.write(json.dumps({"prompt": "p", "chosen": chosen, "rejected": rejected}) + "\n")
    config = FilterConfig(similarity="difflib", disable=["empty_response", *PER_PAIR_ONLY])
    filter_pairs([data], folder / "out", config=config)
    expected = {
        i
        for i, (c, r) in enumerate(pairs)
        if validate_preference_data({"chosen": c, "rejected": r})
    }
    assert _kept_rows(folder / "out") == expected
