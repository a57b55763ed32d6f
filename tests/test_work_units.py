"""Work units rebuild the local reader's exact chunks, whichever process reads them."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.config import ReadOptions
from prefdata.engines.work_units import plan_units
from prefdata.readers import iter_chunks

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
