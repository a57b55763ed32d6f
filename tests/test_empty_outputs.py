"""Empty outputs (nothing kept, or nothing dropped) load the ways users load Parquet.

`datasets` 5.2 sizes its read batches by a file's first row group, so a 0-row row group
fails with ``ArrowInvalid: BatchSize must be greater than 0``. An empty file with no row
group at all streams (0 rows, the right features); a non-streaming load of it still
refuses, with datasets' own "corresponds to no data" (datasets cannot build any empty
split), and ``Dataset(pyarrow.parquet.read_table(path))`` reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata.config import FilterConfig
from prefdata.pipeline import filter_pairs
from prefdata.writer import ParquetSink

datasets = pytest.importorskip("datasets")

LONG = "A response long enough to pass every length check that filter applies by default."


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _assert_loads_empty(path: Path, cache: Path, columns: list[str]) -> None:
    assert pq.ParquetFile(path).metadata.num_row_groups == 0
    streamed = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", streaming=True, cache_dir=str(cache)
    )
    assert list(streamed) == []
    assert list(streamed.features) == columns
    # datasets' own message, not an ArrowInvalid from inside its reader
    with pytest.raises(ValueError, match="corresponds to no data"):
        datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(cache))
    # the README's one-line workaround
    loaded = datasets.Dataset(pq.read_table(path))
    assert loaded.num_rows == 0 and loaded.column_names == columns


def test_nothing_kept_gives_a_kept_parquet_datasets_can_stream(tmp_path: Path) -> None:
    same = {"prompt": "Say hi.", "chosen": LONG, "rejected": LONG}
    source = _write(tmp_path / "pairs.jsonl", [same, {**same, "prompt": "Say bye."}])
    report = filter_pairs([source], tmp_path / "out", config=FilterConfig())
    assert (report.kept_rows, report.dropped_rows) == (0, 2)
    kept = tmp_path / "out" / "kept.parquet"
    columns = pq.read_schema(kept).names
    assert columns[:4] == ["id", "prompt", "chosen", "rejected"]
    _assert_loads_empty(kept, tmp_path / "cache", columns)
    dropped = datasets.load_dataset(
        "parquet",
        data_files=str(tmp_path / "out" / "dropped.parquet"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert dropped.num_rows == 2


def test_nothing_dropped_gives_a_dropped_parquet_datasets_can_stream(tmp_path: Path) -> None:
    row = {"prompt": "Say hi.", "chosen": LONG, "rejected": "A different, shorter reply here."}
    source = _write(tmp_path / "pairs.jsonl", [row])
    report = filter_pairs([source], tmp_path / "out", config=FilterConfig())
    assert (report.kept_rows, report.dropped_rows) == (1, 0)
    dropped = tmp_path / "out" / "dropped.parquet"
    _assert_loads_empty(dropped, tmp_path / "cache", pq.read_schema(dropped).names)


def test_a_sink_never_writes_an_empty_row_group(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string())])
    empty = pa.RecordBatch.from_pylist([], schema=schema)

    only_empty = ParquetSink(tmp_path / "empty.parquet")
    only_empty.write(empty)
    only_empty.close(schema)
    assert pq.ParquetFile(tmp_path / "empty.parquet").metadata.num_row_groups == 0
    assert pq.read_schema(tmp_path / "empty.parquet").names == ["id"]

    # an empty batch first, rows later: one row group, with the rows
    sink = ParquetSink(tmp_path / "rows.parquet")
    sink.write(empty)
    sink.write(pa.RecordBatch.from_pylist([{"id": "a"}, {"id": "b"}], schema=schema))
    sink.close(schema)
    meta = pq.ParquetFile(tmp_path / "rows.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2]
    loaded = datasets.load_dataset(
        "parquet",
        data_files=str(tmp_path / "rows.parquet"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded["id"] == ["a", "b"]


@pytest.mark.slow
def test_ray_kept_folder_emptied_by_dataset_level_decisions_streams(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pair of the first units comes back swapped in later ones: the contradictory
    decision empties the kept parts after they were written, and the one empty part the
    folder keeps (for its schema) must still stream."""
    from prefdata.engines import work_units

    monkeypatch.setattr(work_units, "UNIT_BYTES", 16 << 10)  # several units
    rows = [
        {"prompt": f"Question {i}?", "chosen": f"{LONG} ({i})", "rejected": f"{LONG} [{i}]!"}
        for i in range(120)
    ]
    swapped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in rows]
    source = _write(tmp_path / "pairs.jsonl", rows + swapped)
    config = FilterConfig(batch_size=32, workers=1, max_similarity=1.0)
    report = filter_pairs([source], tmp_path / "out", config=config, engine="ray")
    assert report.kept_rows == 0 and report.reasons["contradictory_pair"] == 240
    parts = sorted((tmp_path / "out" / "kept").glob("*.parquet"))
    assert len(parts) == 1
    columns = pq.read_schema(parts[0]).names
    _assert_loads_empty(parts[0], tmp_path / "cache", columns)
