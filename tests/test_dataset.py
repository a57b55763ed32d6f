"""Dataset-level checks: the table in sample_data/bad_pairs_dataset.jsonl, MinHash
parity with datasketch, length balancing and row accounting with worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from prefdata import reasons
from prefdata.config import FilterConfig
from prefdata.dataset.decisions import (
    Columns,
    balance_rows,
    combine,
    contradictory_rows,
    distinct,
    duplicate_rows,
    member,
)
from prefdata.dataset.minhash import lsh_params, shingle_hashes, signatures
from prefdata.dataset.seen import SeenKeys
from prefdata.dataset.signatures import conversation_hashes, text_hashes
from prefdata.pipeline import filter_pairs, validate_pairs
from prefdata.schema import MESSAGES, final_text


def _table(sample_data: Path) -> dict[int, list[str]]:
    lines = (sample_data / "bad_pairs_dataset.jsonl").read_text(encoding="utf-8").splitlines()
    return {row: json.loads(line)["expected"] for row, line in enumerate(lines)}


def test_dataset_table(sample_data: Path, tmp_path: Path) -> None:
    config = FilterConfig(
        drop_near_duplicates=True, eval_sets=[str(sample_data / "eval_prompts.jsonl")]
    )
    report = filter_pairs([sample_data / "bad_pairs_dataset.jsonl"], tmp_path, config=config)
    dropped = pq.read_table(tmp_path / "dropped.parquet").to_pylist()
    got = {row["source_row"]: row["reasons"] for row in dropped}
    table = _table(sample_data)
    assert got == {row: codes for row, codes in table.items() if codes}
    assert report.input_rows == report.kept_rows + report.dropped_rows == len(table)
    assert report.stats["dataset"]["contaminated_prompt"]["near_only"] == 1


def test_near_duplicates_are_counted_on_request_but_kept(sample_data: Path) -> None:
    plain = validate_pairs([sample_data / "bad_pairs_dataset.jsonl"])
    assert "near_duplicate_prompt" not in plain.stats["dataset"]  # MinHash costs: opt-in
    report = validate_pairs(
        [sample_data / "bad_pairs_dataset.jsonl"], config=FilterConfig(near_duplicates=True)
    )
    assert reasons.NEAR_DUPLICATE_PROMPT not in report.reasons
    near = report.stats["dataset"]["near_duplicate_prompt"]
    assert near["rows"] == 1 and near["dropped"] is False
    assert (near["bands"], near["rows_per_band"]) == (9, 13)


def test_whitespace_is_normalised_but_text_is_not() -> None:
    hashes = text_hashes(pa.array(["a  b\n", "a b", "A b"]))
    assert hashes[0] == hashes[1] != hashes[2]


def test_conversation_hash_sees_order_and_role() -> None:
    msgs = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    u, a = {"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}
    hashes = text_hashes(
        pa.array([[u, a], [a, u], [u, a], [], [{"role": "assistant", "content": "x"}]], msgs)
    )
    assert hashes[0] == hashes[2] and len(set(hashes.tolist())) == 4


_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.one_of(st.none(), st.sampled_from(["", " x  y\n", "x y", "z"])),
    }
)


@given(
    st.lists(st.one_of(st.none(), st.lists(_MESSAGE, max_size=3)), max_size=8), st.integers(0, 2)
)
def test_last_turn_hashes_are_those_of_the_final_text(
    rows: list[list[dict[str, str | None]] | None], start: int
) -> None:
    column = pa.array(rows, MESSAGES).slice(start)
    _, last = conversation_hashes(column)
    assert last.tolist() == text_hashes(final_text(column)).tolist()


def _columns(
    triples: list[tuple[int, int, int]], lengths: list[tuple[int, int]] | None = None
) -> Columns:
    p, c, r = (np.array(col, np.uint64) for col in zip(*triples, strict=True))
    lens = np.array(lengths or [(1, 1)] * len(triples), np.int64)
    return Columns(p, p, c, r, lens[:, 0], lens[:, 1])


def test_duplicates_keep_the_first_and_contradictions_drop_all() -> None:
    cols = _columns([(1, 2, 3), (1, 2, 3), (1, 3, 2), (4, 5, 5), (4, 5, 5), (1, 2, 4)])
    assert duplicate_rows(cols).tolist() == [False, True, False, False, True, False]
    # identical responses cannot be reversed: (4, 5, 5) is not a contradiction of itself
    assert contradictory_rows(cols).tolist() == [True, True, True, False, False, False]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), max_size=60),
    st.integers(1, 9),
)
def test_contradictions_from_the_keys_seen_as_from_a_sort(
    triples: list[tuple[int, int, int]], chunk: int
) -> None:
    """The local engine's lookup of reversed keys among the keys its duplicate check
    gathered chunk by chunk decides the rows a sort of all keys decides."""
    cols = _columns(triples) if triples else _columns([(0, 0, 0)])
    seen = SeenKeys()
    forward = combine(cols.prompt, cols.chosen, cols.rejected)
    for start in range(0, len(forward), chunk):
        seen.repeats(forward[start : start + chunk])
    assert contradictory_rows(cols, seen).tolist() == contradictory_rows(cols).tolist()


def test_minhash_equals_datasketch() -> None:
    datasketch = pytest.importorskip("datasketch")
    params = lsh_params(0.8, 64, 3)
    texts = pa.array(["The quick brown fox jumps over the lazy dog", "two words", "", "  x  "])
    hashes, per_row = shingle_hashes(texts, 3)
    sigs = signatures(texts, params)
    start = 0
    for row, count in enumerate(per_row):
        sketch = datasketch.MinHash(num_perm=64, seed=1, hashfunc=lambda h: h)
        sketch.update_batch([int(h) for h in hashes[start : start + count]])
        assert (sketch.hashvalues == sigs[row]).all()
        start += count
    assert per_row.tolist() == [7, 1, 0, 1]


def test_balance_length_is_exact_and_seeded() -> None:
    lengths = [(10, 5)] * 30 + [(5, 10)] * 10 + [(7, 7)] * 5
    cols = _columns([(i, 1, 2) for i in range(45)], lengths)
    eligible = np.ones(45, bool)
    drop, summary = balance_rows(cols, eligible, seed=3)
    assert summary["dropped"] == drop.sum() == 20 and summary["longer_side"] == "chosen"
    assert drop[:30].sum() == 20 and not drop[30:].any()
    again, _ = balance_rows(cols, eligible, seed=3)
    other, _ = balance_rows(cols, eligible, seed=4)
    assert (again == drop).all() and not (other == drop).all()


def test_balance_length_in_the_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "biased.jsonl"
    long_, short = "A long and careful answer " * 4, "A short answer here ok"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(40):
            chosen, rejected = (long_, short) if i % 4 else (short, long_)
            f.write(
                json.dumps(
                    {
                        "prompt": f"question {i}",
                        "chosen": chosen + str(i),
                        "rejected": rejected + str(i),
                    }
                )
                + "\n"
            )
    config = FilterConfig(balance_length=True, min_chosen_chars=0, min_rejected_chars=0)
    report = filter_pairs([path], tmp_path / "out", config=config)
    assert report.reasons[reasons.LENGTH_BALANCE] == 20  # 30 chosen-longer down to 10
    assert report.stats["length_bias"]["kept_chosen_longer_share"] == 0.5
    assert report.stats["dataset"]["length_balance"]["dropped"] == 20


@pytest.mark.slow
def test_dataset_checks_with_workers_and_many_chunks(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(3000):
            j = i % 1000  # every pair three times: the first kept, two duplicates
            f.write(
                json.dumps(
                    {
                        "prompt": f"prompt number {j}",
                        "chosen": f"chosen answer {j} " * 5,
                        "rejected": f"a rejected answer, number {j}",
                    }
                )
                + "\n"
            )
            if i % 500 == 0:
                f.write("{broken\n")
    one = filter_pairs([path], tmp_path / "one", config=FilterConfig(workers=1, batch_size=256))
    two = filter_pairs([path], tmp_path / "two", config=FilterConfig(workers=2, batch_size=256))
    assert one.reasons[reasons.DUPLICATE_PAIR] == 2000 == two.reasons[reasons.DUPLICATE_PAIR]
    assert one.kept_rows == 1000 and one.input_rows == 3006
    for name in ("kept.parquet", "dropped.parquet"):
        assert pq.read_table(tmp_path / "one" / name).equals(pq.read_table(tmp_path / "two" / name))


def _independent_figures(rows: list[tuple[str, str, str]]) -> tuple[int, int, float]:
    """Duplicates, contradictory rows and chosen-longer share, computed the slow plain way."""
    norm = [tuple(" ".join(t.split()) for t in row) for row in rows]
    seen: set[tuple[str, ...]] = set()
    duplicates = 0
    for row in norm:
        duplicates += row in seen
        seen.add(row)
    contradictory = sum(1 for p, c, r in norm if c != r and (p, r, c) in seen)
    longer = sum(len(c) > len(r) for _, c, r in rows) / len(rows)
    return duplicates, contradictory, longer


@pytest.mark.parametrize(
    "name", ["hh-rlhf/harmless-base-test.jsonl.gz", "llamafactory/dpo_en_demo.json"]
)
def test_real_files_report_duplicates_contradictions_and_length_bias(
    name: str, tmp_path: Path
) -> None:
    from tests.conftest import shared_file

    path = shared_file(name)
    from prefdata.readers import read_pairs
    from prefdata.schema import final_text

    rows = []
    for item in read_pairs([path]):
        good = item.normalized.good
        prompts = [str(p) for p in good.column("prompt").to_pylist()]  # whole conversation
        chosen = final_text(good.column("chosen")).to_pylist()
        rejected = final_text(good.column("rejected")).to_pylist()
        rows += list(zip(prompts, chosen, rejected, strict=True))
    duplicates, contradictory, longer = _independent_figures(rows)
    report = validate_pairs([path])
    assert report.reasons.get(reasons.DUPLICATE_PAIR, 0) == duplicates
    assert report.reasons.get(reasons.CONTRADICTORY_PAIR, 0) == contradictory
    assert report.stats["length_bias"]["chosen_longer_share"] == pytest.approx(longer)
    assert report.stats["length_bias"]["diff_similarity_correlation"] is not None
    if name.startswith("llamafactory"):
        assert duplicates > 0  # the demo file repeats a few pairs verbatim


def test_a_pair_file_can_be_the_eval_set(sample_data: Path, tmp_path: Path) -> None:
    # any input prefdata reads: here the pairs themselves, so every readable prompt matches
    path = sample_data / "bad_pairs_dataset.jsonl"
    report = validate_pairs([path], config=FilterConfig(eval_sets=[str(path)]))
    assert report.reasons[reasons.CONTAMINATED_PROMPT] == report.input_rows


def test_missing_eval_set_is_an_input_error(sample_data: Path, tmp_path: Path) -> None:
    from prefdata.errors import InputError

    with pytest.raises(InputError, match="no such eval set"):
        validate_pairs(
            [sample_data / "bad_pairs_dataset.jsonl"],
            config=FilterConfig(eval_sets=[str(tmp_path / "nope.jsonl")]),
        )


@given(
    st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=12),
    st.sampled_from([1, 0x9E3779B97F4A7C15, 1 << 40]),
)
def test_seen_keys_find_the_same_repeats_as_one_unique_over_everything(
    chunks: list[list[int]], spread: int
) -> None:
    # spread: small keys share one slot (every lookup searches); multiplied by a large
    # odd number they land in many (most lookups end at a clear slot); 2**40: keys that
    # differ only in their top bits
    keyed = [[(k * spread) % 2**64 for k in c] for c in chunks]
    seen = SeenKeys()
    streamed = [seen.repeats(np.array(c, np.uint64)) for c in keyed]
    everything = np.array([k for c in keyed for k in c], np.uint64)
    _, first = np.unique(everything, return_index=True)
    expected = np.ones(len(everything), bool)
    expected[first] = False
    got = np.concatenate(streamed) if streamed else np.zeros(0, bool)
    assert got.tolist() == expected.tolist()
    assert len(seen) == len(np.unique(everything))


def test_seen_keys_stay_right_as_their_slot_flags_grow() -> None:
    # 40k distinct keys outgrow the first flags twice (grown at 8k and 32k keys); every
    # third chunk repeats keys of an earlier one
    rng = np.random.default_rng(7)
    distinct = rng.integers(0, 2**63, 40_000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    chunks = [distinct[i : i + 1000] for i in range(0, len(distinct), 1000)]
    chunks = [
        c if i % 3 else np.concatenate([c, chunks[i // 2][:100]]) for i, c in enumerate(chunks)
    ]
    seen = SeenKeys()
    got = np.concatenate([seen.repeats(c) for c in chunks])
    everything = np.concatenate(chunks)
    _, first = np.unique(everything, return_index=True)
    expected = np.ones(len(everything), bool)
    expected[first] = False
    assert got.tolist() == expected.tolist() and int(got.sum()) > 0
    assert len(seen) == 40_000 and seen._bits > 16


def _plain_dataset_reasons(rows: list[tuple[str, str, str]]) -> list[list[str]]:
    """Per row in read order, its dataset-level codes, the slow plain way."""
    norm = [tuple(" ".join(t.split()) for t in row) for row in rows]
    seen: set[tuple[str, ...]] = set()
    out = []
    forward = set(norm)
    for p, c, r in norm:
        codes = []
        if (p, c, r) in seen:
            codes.append(reasons.DUPLICATE_PAIR)
        seen.add((p, c, r))
        if c != r and (p, r, c) in forward:
            codes.append(reasons.CONTRADICTORY_PAIR)
        out.append(codes)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_one_pass_finds_what_a_whole_dataset_view_finds_across_files(
    tmp_path: Path, workers: int
) -> None:
    # two Parquet files in a folder: the same row numbers in both must not be confused,
    # late reasons (contradictions) move rows out of kept and add to dropped rows, and
    # several chunks per file exercise the streaming duplicate set
    rng = np.random.default_rng(7)
    folder = tmp_path / "parts"
    folder.mkdir()
    words = ["a good and careful answer", "a poor answer", "another reply", "yes", "no way"]
    everything: list[tuple[str, str, str]] = []
    for name in ("a.parquet", "b.parquet"):
        rows = []
        for _ in range(120):
            p = f"question {rng.integers(0, 15)}"
            c, r = (words[i] * int(rng.integers(1, 4)) for i in rng.choice(5, 2))
            rows.append((p, c, r) if rng.random() > 0.15 else (p, r, c))
        everything += rows
        pq.write_table(
            pa.table(
                {
                    k: [row[i] for row in rows]
                    for i, k in enumerate(("prompt", "chosen", "rejected"))
                }
            ),
            folder / name,
        )
    config = FilterConfig(workers=workers, batch_size=32, min_chosen_chars=0, min_rejected_chars=0)
    report = filter_pairs([folder], tmp_path / "out", config=config)
    expected = _plain_dataset_reasons(everything)
    dropped = pq.read_table(tmp_path / "out" / "dropped.parquet").to_pylist()
    got = {
        (Path(r["source_file"]).name, r["source_row"]): [
            c for c in r["reasons"] if c in (reasons.DUPLICATE_PAIR, reasons.CONTRADICTORY_PAIR)
        ]
        for r in dropped
    }
    want = {
        (name, i): expected[k * 120 + i]
        for k, name in enumerate(("a.parquet", "b.parquet"))
        for i in range(120)
    }
    assert {key: codes for key, codes in got.items() if codes} == {
        key: codes for key, codes in want.items() if codes
    }
    assert report.reasons[reasons.CONTRADICTORY_PAIR] == sum(
        reasons.CONTRADICTORY_PAIR in codes for codes in expected
    )
    kept = pq.read_table(tmp_path / "out" / "kept.parquet")
    assert kept.num_rows == report.kept_rows and len(dropped) == report.dropped_rows
    assert report.input_rows == report.kept_rows + report.dropped_rows == 240
    assert report.stats["length_bias"]["kept_chosen_longer_share"] == pytest.approx(
        np.mean(
            [
                len(c) > len(r)
                for c, r in zip(
                    kept["chosen"].to_pylist(), kept["rejected"].to_pylist(), strict=True
                )
            ]
        )
    )


_SPACES = "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2005\u200a\u200b\u2028\u2029\u202f\u205f\u3000\u2027\u202a\u2060\u3001"


def _unicode_normalised_hashes(column: pa.Array) -> list[int]:
    normal = pc.binary_join(
        pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.fill_null(column, ""))), " "
    )
    return [xxhash.xxh3_64_intdigest(text.encode()) for text in normal.to_pylist()]


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(
                alphabet=st.sampled_from(_SPACES + "ab’é語\u2019\u201c\u00e9\x01\x1b"), max_size=12
            ),
            st.text(max_size=8),
        ),
        max_size=30,
    )
)
def test_text_hashes_are_xxh3_of_the_unicode_kernels_normalisation(
    texts: list[str | None],
) -> None:
    column = pa.array(texts, pa.string())
    assert text_hashes(column).tolist() == _unicode_normalised_hashes(column)
    if len(column) > 1:  # a slice, whose buffers start before its first row
        assert text_hashes(column.slice(1)).tolist() == _unicode_normalised_hashes(column)[1:]
    assert text_hashes(column.cast(pa.large_string())).tolist() == text_hashes(column).tolist()


@given(
    st.lists(
        st.lists(
            st.sampled_from(["a", "bc", "é語", "’", "\u00c2", "\u2000", "\n", ""]), max_size=5
        ),
        max_size=20,
    ),
    st.sampled_from([" ", "  "]),
)
def test_text_already_normal_hashes_in_place_as_the_kernels_say(
    words: list[list[str]], gap: str
) -> None:
    # words joined by single spaces are mostly normal already (the in-place path); a
    # double gap, a blank word, a newline or a Unicode space makes the column go the
    # marking way: both must agree with Arrow's Unicode kernels
    column = pa.array([gap.join(w) for w in words], pa.string())
    assert text_hashes(column).tolist() == _unicode_normalised_hashes(column)
    if len(column) > 1:
        assert text_hashes(column.slice(1)).tolist() == _unicode_normalised_hashes(column)[1:]


def test_long_whitespace_runs_at_the_ends_hash_like_trimmed_text() -> None:
    texts = ["a b", " " * 40 + "a\n\n b" + "\t " * 30, "\n" * 17 + "a b" + " " * 17, " " * 50, ""]
    hashes = text_hashes(pa.array(texts)).tolist()
    assert hashes[0] == hashes[1] == hashes[2] != hashes[3]
    assert hashes[3] == hashes[4] == _unicode_normalised_hashes(pa.array([""]))[0]


def test_every_enabled_dataset_check_is_in_the_report_even_with_no_rows(
    sample_data: Path,
) -> None:
    report = validate_pairs([sample_data / "pairs.jsonl"])
    assert report.reasons[reasons.DUPLICATE_PAIR] == 0
    assert report.reasons[reasons.CONTRADICTORY_PAIR] == 0


@given(
    st.lists(st.integers(0, 30), max_size=40),
    st.lists(st.integers(0, 30), max_size=40),
)
def test_sorted_membership_and_distinct_equal_numpys(values: list[int], pool: list[int]) -> None:
    a, b = np.array(values, np.uint64), np.array(pool, np.uint64)
    assert member(a, b).tolist() == np.isin(a, b).tolist()
    assert distinct(a) == len(np.unique(a))


def test_a_file_given_twice_is_two_sources(tmp_path: Path) -> None:
    rows = [
        ("q1", "a careful answer", "a poor answer"),
        ("q1", "a poor answer", "a careful answer"),  # contradicts the first
        ("q2", "yes indeed it is", "no it is not"),
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(
            json.dumps(dict(zip(("prompt", "chosen", "rejected"), r, strict=True))) + "\n"
            for r in rows
        )
    )
    config = FilterConfig(min_chosen_chars=0, min_rejected_chars=0)
    report = filter_pairs([path, path], tmp_path / "out", config=config)
    expected = _plain_dataset_reasons(rows + rows)
    dropped = pq.read_table(tmp_path / "out" / "dropped.parquet").to_pylist()
    assert [r["reasons"] for r in dropped] == [codes for codes in expected if codes]
    assert report.input_rows == 6 and report.kept_rows == 1
