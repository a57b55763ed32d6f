"""Late decisions applied while both output files are written once, at the same time:
kept.parquet without the late rows, dropped.parquet with them merged in read order and
the late codes added to rows already dropped; checked against the plain way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefdata.chunks import as_dropped, reason_lists
from prefdata.dataset.along import row_keys
from prefdata.dataset.late import LateRows, _Moved, in_key_order
from prefdata.engines.local_outputs import DroppedRows, write_outputs
from prefdata.parallel_parquet import ParallelParquet
from prefdata.schema import REASONS, SOURCE_ROW
from prefdata.writer import ArrowSpool

KEPT = pa.schema([("id", pa.string()), ("prompt", pa.string())])


def _dropped_rows(rows: list[int], codes: list[list[str]]) -> pa.RecordBatch:
    batch = pa.RecordBatch.from_pylist(
        [{"id": f"r{r}", "prompt": f"p{r}"} for r in rows], schema=KEPT
    )
    return as_dropped(
        batch,
        pa.array(codes, pa.list_(pa.string())),
        pa.array(["in.jsonl"] * len(rows), pa.string()),
        pa.array(rows, pa.int64()),
    )


def _run(
    tmp_path: Path,
    fate: list[int],
    late_codes: dict[int, list[str]],
    chunk: int,
    spool_at: int | None = None,
) -> tuple[list[dict], list[dict]]:
    """fate[r]: 0 kept, 1 dropped in the pass; late_codes: rows a late reason drops;
    spool_at: the chunk from which dropped rows are spooled (DroppedRows.spool_from_now)."""
    kept = ArrowSpool(tmp_path / "kept.parquet")
    dropped = DroppedRows(tmp_path / "dropped.parquet")
    kept_keys, dropped_keys = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(fate), chunk):
        if spool_at is not None and start >= spool_at * chunk:
            dropped.spool_from_now()
        rows = list(range(start, min(start + chunk, len(fate))))
        k = [r for r in rows if fate[r] == 0]
        d = [r for r in rows if fate[r] == 1]
        kept.write(
            pa.RecordBatch.from_pylist([{"id": f"r{r}", "prompt": f"p{r}"} for r in k], KEPT)
        )
        dropped.write(_dropped_rows(d, [["too_short"]] * len(d)))
        kept_keys.append(row_keys(0, np.array(k, np.int64)))
        dropped_keys.append(row_keys(0, np.array(d, np.int64)))
    late = None
    if late_codes:
        codes = ["contradictory_pair", "near_duplicate_prompt"]
        keys = np.array(sorted(late_codes), np.int64)
        matrix = np.array([[c in late_codes[int(k)] for c in codes] for k in keys], bool)
        late = LateRows(keys, codes, matrix, np.zeros(len(keys)), np.zeros(len(keys)))
    empty = (KEPT, _dropped_rows([], []).schema)
    write_outputs(
        late,
        (kept, dropped),
        (np.concatenate(kept_keys), np.concatenate(dropped_keys)),
        empty,
        ["in.jsonl"],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dropped.parquet", "kept.parquet"]
    return (
        pq.read_table(tmp_path / "kept.parquet").to_pylist(),
        pq.read_table(tmp_path / "dropped.parquet").to_pylist(),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 1), max_size=120),
    st.data(),
    st.integers(1, 17),
    st.one_of(st.none(), st.integers(0, 8)),
)
def test_outputs_equal_the_plain_way(
    fate: list[int], data: st.DataObject, chunk: int, spool_at: int | None
) -> None:
    """Whatever the late rows, and whether dropped rows were spooled from some chunk on
    (the pass met a contradiction there) or never, the files hold what the plain way
    gives: kept less the late rows, dropped in read order with the late codes added."""
    import tempfile

    late_rows = data.draw(st.sets(st.integers(0, max(len(fate) - 1, 0)))) if fate else set()
    late_codes = {
        r: data.draw(
            st.lists(
                st.sampled_from(["contradictory_pair", "near_duplicate_prompt"]),
                min_size=1,
                max_size=2,
                unique=True,
            ).map(lambda c: sorted(c, key=["contradictory_pair", "near_duplicate_prompt"].index))
        )
        for r in late_rows
    }
    with tempfile.TemporaryDirectory() as tmp:
        kept, dropped = _run(Path(tmp), fate, late_codes, chunk, spool_at)
    assert [r["id"] for r in kept] == [
        f"r{r}" for r, f in enumerate(fate) if f == 0 and r not in late_codes
    ]
    expected = []
    for r, f in enumerate(fate):
        own = ["too_short"] if f == 1 else []
        if f == 1 or r in late_codes:
            expected.append((r, [*own, *late_codes.get(r, [])]))
    assert [(r[SOURCE_ROW], r[REASONS]) for r in dropped] == expected
    assert all(r["source_file"] == "in.jsonl" for r in dropped)
    assert len(kept) + len(dropped) == len(fate)


def test_no_late_rows_writes_both_files_as_spooled(tmp_path: Path) -> None:
    kept, dropped = _run(tmp_path, [0, 1, 0, 0, 1], {}, 2)
    assert [r["id"] for r in kept] == ["r0", "r2", "r3"]
    assert [r[SOURCE_ROW] for r in dropped] == [1, 4]


def test_nothing_at_all_leaves_two_empty_files_with_their_schemas(tmp_path: Path) -> None:
    kept, dropped = _run(tmp_path, [], {}, 3)
    assert kept == dropped == []
    assert pq.read_schema(tmp_path / "kept.parquet") == KEPT


def test_a_failing_kept_side_fails_the_call_and_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefdata.engines import local_outputs

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_outputs, "copy_rows", broken)
    with pytest.raises(OSError, match="No space"):
        _run(tmp_path, [0, 1, 0], {}, 2)


@given(st.sets(st.integers(0, 500), max_size=80), st.integers(1, 7), st.integers(1, 7))
def test_moved_rows_merge_back_in_read_order(keys: set[int], left: int, right: int) -> None:
    ordered = sorted(keys)
    mine = [k for k in ordered if k % 3]
    theirs = [k for k in ordered if not k % 3]
    moved = _Moved()
    for i in range(0, len(theirs), right):
        part = theirs[i : i + right]
        moved.put(part[-1], np.array(part, np.int64), pa.record_batch({"k": part}))
    moved.end()
    out: list[int] = []
    for i in range(0, len(mine), left):
        part = mine[i : i + left]
        extra_keys, extra = moved.upto(part[-1])
        batch = pa.record_batch({"k": part})
        for b in in_key_order(batch, np.array(part, np.int64), extra, extra_keys):
            out.extend(b.column(0).to_pylist())
    _, rest = moved.upto(_Moved._END)
    out.extend(v for b in rest for v in b.column(0).to_pylist())
    assert out == ordered


def test_reason_lists_shape() -> None:  # the helper the late codes go through
    assert reason_lists(["a", "b"], np.array([[True, True], [False, True]])).to_pylist() == [
        ["a", "b"],
        ["b"],
    ]


def test_a_chunks_counted_rows_match_the_rows_it_splits_into(tmp_path: Path) -> None:
    """finish counts from masks and splits later: the row numbers it hands out for the
    late decisions must be those of the rows split, bad (unreadable) rows included."""
    import json

    from prefdata.chunks import check_chunk, finish
    from prefdata.config import FilterConfig, ReadOptions
    from prefdata.readers import iter_chunks

    lines = []
    for i in range(60):
        if i % 7 == 3:
            lines.append("{not json")
        elif i % 5 == 1:
            lines.append(json.dumps({"prompt": f"q{i}?", "chosen": "same", "rejected": "same"}))
        else:
            lines.append(
                json.dumps({"prompt": f"q{i}?", "chosen": f"good answer {i}", "rejected": f"n{i}"})
            )
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    config = FilterConfig()
    results = [
        finish(check_chunk(chunk, layout, config), {"duplicate_pair": np.array([0, 10, 20])})
        for _, layout, chunk in iter_chunks([path], ReadOptions(), chunk_rows=25)
    ]
    for result in results:
        kept, dropped = result.split()
        assert kept.num_rows == len(result.kept_source_rows)
        assert dropped.column(SOURCE_ROW).to_pylist() == result.dropped_source_rows.tolist()
    assert sum(len(r.kept_source_rows) + len(r.dropped_source_rows) for r in results) == 60
    assert any("malformed_record" in c for r in results for c in r.reasons)


def test_a_run_with_contradictions_writes_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late rows move from kept to dropped with kept.parquet encoded once, at the end
    (its rows spooled until then), and dropped.parquet, written during the pass, read
    back once because late codes reach rows in it: no other file is written."""
    import json

    from prefdata import writer
    from prefdata.pipeline import filter_pairs

    rows = []
    for i in range(300):
        rows.append(
            {"prompt": f"q{i}?", "chosen": f"answer one {i}", "rejected": f"answer two {i}"}
        )
    for i in range(0, 300, 7):  # the same pairs reversed, later: contradictions
        rows.append(
            {"prompt": f"q{i}?", "chosen": f"answer two {i}", "rejected": f"answer one {i}"}
        )
    rows.append({"prompt": "q1?", "chosen": "same", "rejected": "same"})  # dropped in the pass
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    closed: list[str] = []
    for sink in (writer.ParquetSink, ParallelParquet):  # kept.parquet: ParallelParquet

        def close(self: Any, empty: pa.Schema, real_close: Any = sink.close) -> None:
            closed.append(self.path.name)
            real_close(self, empty)

        monkeypatch.setattr(sink, "close", close)
    report = filter_pairs([path], tmp_path / "out")
    assert report.reasons["contradictory_pair"] == 2 * len(range(0, 300, 7))
    # dropped: the pass's file, then the result written from it; kept: once
    assert sorted(closed) == ["dropped.parquet", "dropped.parquet", "kept.parquet"]
    monkeypatch.undo()
    dropped = pq.read_table(tmp_path / "out" / "dropped.parquet")
    assert dropped.column(SOURCE_ROW).to_pylist() == sorted(dropped.column(SOURCE_ROW).to_pylist())
    assert report.input_rows == report.kept_rows + report.dropped_rows == len(rows)


def test_spooling_dropped_rows_after_a_contradiction_changes_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that meets a contradiction in a later chunk spools its dropped rows from
    there on; its files and report equal those of the same run that never spools."""
    import json

    from prefdata.config import FilterConfig
    from prefdata.dataset.along import DatasetPass
    from prefdata.pipeline import filter_pairs

    # long and unlike each other: these pairs are kept
    one, two = " alpha beta gamma delta" * 3, " one two three four five six" * 3
    rows = [
        {"prompt": f"q{i}?", "chosen": f"{i}{one}", "rejected": f"{i % 50}{two}"}
        for i in range(400)
    ]
    rows += [{"prompt": "q7?", "chosen": f"7{two}", "rejected": f"7{one}"}]  # reversed
    rows += rows[:30]  # duplicates after it
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = FilterConfig(batch_size=64)
    spooled = filter_pairs([path], tmp_path / "spooled", config=config)
    monkeypatch.setattr(DatasetPass, "reverses", lambda self, sig: False)
    plain = filter_pairs([path], tmp_path / "plain", config=config)
    # the pair, its reversal, and the later duplicate of the pair
    assert spooled.reasons == plain.reasons and spooled.reasons["contradictory_pair"] == 3
    assert spooled.kept_rows == plain.kept_rows > 300
    for name in ("kept.parquet", "dropped.parquet"):
        assert pq.read_table(tmp_path / "spooled" / name).equals(
            pq.read_table(tmp_path / "plain" / name)
        )
