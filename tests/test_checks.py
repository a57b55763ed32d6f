"""The per-pair checks, driven by sample_data/bad_pairs.jsonl: each row names its reasons."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefdata import reasons
from prefdata.checks.base import _lengths, blank
from prefdata.chunks import reason_lists, run_checks
from prefdata.config import FilterConfig
from prefdata.pipeline import filter_pairs

# bad_pairs.jsonl holds a 1,500-character response: the table runs with a lower limit
# so that response_too_long has a row without a 100 kB sample file.
TABLE_CONFIG = FilterConfig(max_response_chars=1000)
EXPECTED = re.compile(rb'"expected": (\[[^\]]*\])')


def _table(sample_data: Path) -> dict[int, list[str]]:
    """line number -> expected reasons, read from the raw line (even when it cannot parse)."""
    table = {}
    for row, line in enumerate((sample_data / "bad_pairs.jsonl").read_bytes().splitlines()):
        match = EXPECTED.search(line)
        assert match, f"bad_pairs.jsonl line {row + 1} has no expected reasons"
        table[row] = json.loads(match.group(1))
    return table


# Reasons with their own tables: dataset-level ones need the whole file (and an eval
# set), tokenizer ones a trained tokenizer (tests/test_tokens.py asserts each of these).
DATASET_TABLE = "bad_pairs_dataset.jsonl"
TOKENIZER_TESTED = {
    reasons.PROMPT_TOO_LONG,
    reasons.RESPONSE_TRUNCATED,
    reasons.IDENTICAL_AFTER_TRUNCATION,
    reasons.PROMPT_BOUNDARY_MERGE,
}
BALANCE_TESTED = {reasons.LENGTH_BALANCE}  # random by design: tests/test_dataset.py
LAYOUT_TESTED = {reasons.NO_PREFERENCE}  # labelled layouts only: tests/test_layouts.py


def test_every_reason_code_has_a_row(sample_data: Path) -> None:
    covered = {code for codes in _table(sample_data).values() for code in codes}
    for line in (sample_data / DATASET_TABLE).read_text(encoding="utf-8").splitlines():
        covered.update(json.loads(line)["expected"])
    covered |= TOKENIZER_TESTED | BALANCE_TESTED | LAYOUT_TESTED
    all_codes = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}
    assert all_codes - covered == set()


def test_bad_pairs_table(sample_data: Path, tmp_path: Path) -> None:
    table = _table(sample_data)
    report = filter_pairs([sample_data / "bad_pairs.jsonl"], tmp_path, config=TABLE_CONFIG)
    dropped = pq.read_table(tmp_path / "dropped.parquet").to_pylist()
    got = {row["source_row"]: row["reasons"] for row in dropped}
    kept_rows = [row for row, codes in table.items() if not codes]
    assert {row: codes for row, codes in table.items() if codes} == got
    assert report.kept_rows == len(kept_rows)
    assert report.input_rows == len(table)


def _batch(chosen: list[str], rejected: list[str]) -> pa.RecordBatch:
    n = len(chosen)
    return pa.RecordBatch.from_pydict(
        {
            "id": [str(i) for i in range(n)],
            "prompt": ["p"] * n,
            "chosen": chosen,
            "rejected": rejected,
        }
    )


def test_thresholds_are_configurable() -> None:
    batch = _batch(["a" * 30, "b" * 60], ["x" * 30, "y" * 10])
    codes, matrix, _ = run_checks(batch, FilterConfig(min_chosen_chars=20, min_rejected_chars=5))
    assert not matrix.any()
    codes, matrix, _ = run_checks(batch, FilterConfig())
    assert matrix[0, codes.index("chosen_too_short")]
    assert matrix[1, codes.index("rejected_too_short")]


def test_disable_skips_a_check() -> None:
    batch = _batch(
        ["same text that is long enough to pass the length rule, surely"] * 2,
        ["same text that is long enough to pass the length rule, surely"] * 2,
    )
    codes, matrix, _ = run_checks(batch, FilterConfig(disable=["too_similar", "identical_pair"]))
    assert "too_similar" not in codes and "identical_pair" not in codes
    assert not matrix.any()


def test_similarity_threshold_is_strict() -> None:
    # Indel similarity of these two is exactly 0.9: "above 0.9" must not drop it.
    chosen, rejected = "a" * 90 + "b" * 10, "a" * 90 + "c" * 10
    from rapidfuzz.distance import Indel

    assert Indel.normalized_similarity(chosen, rejected) == pytest.approx(0.9)
    codes, matrix, view = run_checks(_batch([chosen], [rejected]), FilterConfig())
    assert not matrix[0, codes.index("too_similar")]
    assert view.stats["similarity"][0] == pytest.approx(0.9)


def test_checks_read_the_final_turn_of_conversations() -> None:
    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    long_turn = "This earlier turn is long and identical on both sides, so transcripts look alike."
    batch = pa.RecordBatch.from_pydict(
        {
            "id": ["1"],
            "prompt": pa.array([[{"role": "user", "content": "hi"}]], messages),
            "chosen": pa.array(
                [
                    [
                        {"role": "assistant", "content": long_turn},
                        {"role": "assistant", "content": "Short."},
                    ]
                ],
                messages,
            ),
            "rejected": pa.array(
                [
                    [
                        {"role": "assistant", "content": long_turn},
                        {
                            "role": "assistant",
                            "content": "A different final answer that is long enough.",
                        },
                    ]
                ],
                messages,
            ),
        }
    )
    codes, matrix, view = run_checks(batch, FilterConfig())
    assert matrix[0, codes.index("chosen_too_short")]
    assert not matrix[0, codes.index("too_similar")]
    # the final turns' lengths alone rule out the threshold: not compared (NaN), where
    # the whole transcripts would have been compared and found similar
    assert not view.stats["similarity"][0] >= 0.9


def test_reason_lists_keep_row_order() -> None:
    matrix = np.array([[True, False, True], [False, False, False], [False, True, False]])
    lists = reason_lists(["a", "b", "c"], matrix)
    assert lists.to_pylist() == [["a", "c"], [], ["b"]]


_TEXT = st.text(
    alphabet=st.sampled_from(
        [
            *("a", "Z", " ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "é", "漢", "😀"),
            *("\u1680", "\u2003", "\u200b", "\u2028", "\u3000", "\ufeff", "\x00"),
        ]
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=12), st.integers(0, 3))
def test_lengths_and_blanks_as_arrow_counts_them(texts: list[str], start: int) -> None:
    """Characters by offsets for ASCII text, and blanks without trimming, give what
    Arrow's utf8_length and utf8_trim_whitespace give, for any text and any slice."""
    array = pa.array(texts, pa.string()).slice(min(start, len(texts)))
    chars = pc.utf8_length(array).to_numpy(zero_copy_only=False).astype(np.int64)
    trimmed = pc.utf8_length(pc.utf8_trim_whitespace(array))
    assert _lengths(array).tolist() == chars.tolist()
    assert blank(array).tolist() == [n == 0 for n in trimmed.to_pylist()]
