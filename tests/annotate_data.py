"""Small curated Parquet files for the annotation tests (the filter's output shape)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata import schema

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def kept_table(n: int, *, start: int = 0) -> pa.Table:
    """``n`` text-shape pairs with ids p0000..., and one extra column carried along."""
    ids = [f"p{i:04d}" for i in range(start, start + n)]
    return pa.table(
        {
            schema.ID: ids,
            schema.PROMPT: [f"Question {i}: explain thing {i}." for i in range(start, start + n)],
            schema.CHOSEN: [
                f"A careful **answer** number {i} with detail." for i in range(start, start + n)
            ],
            schema.REJECTED: [f"A sloppy answer number {i}." for i in range(start, start + n)],
            "lang": ["en"] * n,
        }
    )


def write_kept(path: Path, n: int, *, xss: bool = False) -> Path:
    table = kept_table(n)
    if xss:  # the first pair carries markup that must never run
        rejected = table.column(schema.REJECTED).to_pylist()
        rejected[0] = f"Try this: {XSS}"
        table = table.set_column(3, schema.REJECTED, pa.array(rejected))
    pq.write_table(table, path)
    return path


def write_dropped(path: Path) -> Path:
    """A dropped set as `prefdata filter` writes it: canonical columns + provenance."""
    table = pa.table(
        {
            schema.ID: ["d0", "d1", None],
            schema.PROMPT: ["Say hi", "Same?", None],
            schema.CHOSEN: ["hi", "same answer", None],
            schema.REJECTED: ["hello", "same answer", None],
            schema.REASONS: [["chosen_too_short"], ["identical_pair"], ["malformed_record"]],
            schema.SOURCE_FILE: ["in.jsonl"] * 3,
            schema.SOURCE_ROW: [3, 7, 9],
            schema.RAW: [None, None, "{not json"],
        }
    )
    pq.write_table(table, path)
    return path
