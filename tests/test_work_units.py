"""Work units rebuild the local reader's exact chunks, whichever process reads them, and
their parts take dataset-level decisions as the local engine does. No Ray needed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.chunks import check_chunk, concat_lists, finish
from prefdata.config import FilterConfig, ReadOptions
from prefdata.engines.decided_parts import apply_to_part, replace_decided_parts
from prefdata.engines.parts import (
    DROPPED_DIR,
    KEPT_DIR,
    SIGNATURES_DIR,
    base_schemas,
    part_name,
    run_unit,
)
from prefdata.engines.work_units import plan_units
from prefdata.readers import iter_chunks
from prefdata.writer import ParquetSink

PAIR = {"prompt": "p", "chosen": "a chosen answer", "rejected": "a rejected answer"}


def _chunks(path: Path, rows: int) -> list[tuple[str, int, int]]:
    return [(c.source, c.start_row, len(c)) for _, _, c in iter_chunks([path], chunk_rows=rows)]


def test_jsonl_and_parquet_units_give_the_local_chunks(tmp_path: Path) -> None:
    jsonl = tmp_path / "p.jsonl"
    lines = [json.dumps({**PAIR, "n": i}) if i % 50 else "" for i in range(2000)]  # blank lines
    jsonl.write_text("\n".join(lines) + "\n")
    folder = tmp_path / "pq"
    folder.mkdir()
    table = pa.Table.from_pylist([{**PAIR, "n": i} for i in range(1000)])
    pq.write_table(table, folder / "a.parquet", row_group_size=300)
    pq.write_table(table.slice(0, 10), folder / "b.parquet")
    for path in (jsonl, folder):
        plan = plan_units([path], ReadOptions(), chunk_rows=128, unit_bytes=4096)
        assert len(plan.units) > 2 and [u.index for u in plan.units] == list(range(len(plan.units)))
        units = [pickle.loads(pickle.dumps(u)) for u in plan.units]  # as a worker gets them
        got = [(c.source, c.start_row, len(c)) for u in units for c in u.raw_chunks(128)]
        assert got == _chunks(path, 128)
    assert plan.infos[0].layout == "trl"


def test_inline_units_are_stashed_one_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([PAIR] * 500))
    stashed: list[int] = []
    plan = plan_units(
        [path], ReadOptions(), chunk_rows=100, unit_bytes=1, stash=lambda u: stashed.append(u.index)
    )
    assert stashed == [u.index for u in plan.units] == [0, 1, 2, 3, 4]
    assert all(u.chunks is None for u in plan.units)  # the planner kept none of the data


def test_decisions_applied_to_a_units_parts_equal_the_local_chunks(tmp_path: Path) -> None:
    """run_unit then apply_to_part (the Ray engine's two steps) give the rows, reasons and
    order that check_chunk and finish give when they know the decisions up front (the local engine)."""
    lines = []
    for i in range(300):
        if i % 97 == 5:
            lines.append('{"prompt": "cut off", "chosen": "abc')
            continue
        record = {**PAIR, "chosen": f"a chosen answer that is long enough to pass every check {i}"}
        record["rejected"] = f"a rejected answer, also long enough {i}"
        if i % 13 == 0:
            record["chosen"] = "short"  # dropped by a per-pair check
        if i > 150:
            record["tag"] = i  # a column only later chunks have
        lines.append(json.dumps(record))
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    config = FilterConfig(batch_size=64)
    plan = plan_units([path], ReadOptions(), chunk_rows=64)
    (unit,) = plan.units
    staging = tmp_path / "staging"
    for folder in (KEPT_DIR, DROPPED_DIR, SIGNATURES_DIR):
        (staging / folder).mkdir(parents=True)
    run_unit(unit, config, plan.shape, staging=str(staging), signatures=str(staging / "signatures"))
    # kept rows, rows a check dropped (every 13th), rows with both codes, a late kept row
    decided = {
        "duplicate_pair": np.array([1, 13, 14, 65, 130, 131, 250, 299]),
        "contradictory_pair": np.array([14, 26, 100, 130, 131, 251]),
    }

    signatures = pq.read_table(staging / SIGNATURES_DIR / part_name(0))
    rows = signatures.column("source_row").to_numpy()
    hit = np.isin(rows, np.concatenate(list(decided.values())))
    table = pa.table(
        {
            "part": np.zeros(hit.sum(), np.int64),
            "source_row": rows[hit],
            **{code: np.isin(rows[hit], r) for code, r in decided.items()},
            "kept": signatures.column("kept").to_numpy(zero_copy_only=False)[hit],
        }
    )
    moved = apply_to_part(table.take(np.arange(hit.sum())[::-1]), staging, list(decided))
    replace_decided_parts(staging)

    expected = {name: ParquetSink(tmp_path / f"{name}.parquet") for name in ("kept", "dropped")}
    for chunk in unit.raw_chunks(64):
        result = finish(check_chunk(chunk, unit.layout, config), decided)
        expected["kept"].write(result.kept)
        expected["dropped"].write(result.dropped)
    kept_schema, dropped_schema = base_schemas(plan.shape)
    expected["kept"].close(kept_schema)
    expected["dropped"].close(dropped_schema)
    for name in ("kept", "dropped"):
        got = pq.read_table(staging / name / part_name(0))
        assert got.equals(pq.read_table(tmp_path / f"{name}.parquet")), name
    assert moved == 6  # 1, 65, 100, 250, 251, 299: kept by the checks, dropped now
    reasons = pq.read_table(staging / DROPPED_DIR / part_name(0)).column("reasons").to_pylist()
    assert ["chosen_too_short", "duplicate_pair", "contradictory_pair"] in reasons


def test_concat_lists_keeps_each_rows_order() -> None:
    a = pa.array([["x", "y"], [], ["z"], []], pa.list_(pa.string()))
    b = pa.array([["1"], ["2", "3"], [], []], pa.list_(pa.string()))
    assert concat_lists(a.slice(1), b.slice(1)).to_pylist() == [["2", "3"], ["z"], []]
    assert concat_lists(a, b).to_pylist() == [["x", "y", "1"], ["2", "3"], ["z"], []]
