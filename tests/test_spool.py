"""The kept-row spool gives the same Parquet file as writing the rows directly."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.writer import ArrowSpool, ParquetSink

BATCHES = [
    pa.record_batch({"id": ["a", "b"], "extra": pa.nulls(2)}),  # all null: type unknown yet
    pa.record_batch({"id": pa.array([], pa.string()), "extra": pa.array([], pa.string())}),
    pa.record_batch({"id": ["c"], "extra": ["text"]}),
    pa.record_batch({"id": ["d"], "extra": [None], "late": [3]}),  # a column not seen before
    pa.record_batch({"id": ["e"], "extra": [{"k": 1}]}),  # a clash: kept as JSON text
]
EMPTY = pa.schema([("id", pa.string())])


def test_a_spooled_file_equals_the_directly_written_one(tmp_path: Path) -> None:
    direct = ParquetSink(tmp_path / "direct.parquet")
    spool = ArrowSpool(tmp_path / "spooled.parquet")
    for batch in BATCHES:
        direct.write(batch)
        spool.write(batch)
    direct.close(EMPTY)
    out = ParquetSink(spool.path, spool.schema)
    for batch in spool.batches():
        out.write(batch)
    out.close(EMPTY)
    expected, got = pq.read_table(direct.path), pq.read_table(spool.path)
    assert got.schema == expected.schema and got.equals(expected)
    assert got.column("extra").to_pylist() == [None, None, "text", None, '{"k":1}']
    assert sorted(p.name for p in tmp_path.iterdir()) == ["direct.parquet", "spooled.parquet"]


def test_an_empty_spool_leaves_the_empty_schema(tmp_path: Path) -> None:
    spool = ArrowSpool(tmp_path / "kept.parquet")
    out = ParquetSink(spool.path, spool.schema)
    for batch in spool.batches():
        out.write(batch)
    out.close(EMPTY)
    assert pq.read_table(spool.path).schema == EMPTY
