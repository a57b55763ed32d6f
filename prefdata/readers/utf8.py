"""Invalid UTF-8 in Arrow batches (Parquet, CSV, save_to_disk, Arrow's JSON parse):
found with Arrow's full validation, dropped row by row as ``malformed_record``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata import reasons
from prefdata.readers.bad_rows import BadRows, json_text
from prefdata.readers.chunk import Malformed, RawChunk, cell_text, is_text_like
from prefdata.schema import SOURCE_ROW


def is_valid(batch: pa.RecordBatch) -> bool:
    try:
        batch.validate(full=True)  # full validation includes every string's UTF-8
    except pa.ArrowInvalid:
        return False
    return True


def _as_text(column: pa.Array, i: int) -> str:
    if is_text_like(column):
        return cell_text(column, i) or ""
    try:
        return json_text(column[i].as_py())
    except UnicodeDecodeError:
        return "<invalid UTF-8>"


def split_invalid_utf8(chunk: RawChunk) -> tuple[RawChunk, pa.RecordBatch | None]:
    """A batch chunk without its rows holding invalid UTF-8, and those rows as
    ``malformed_record`` (their raw text with the bad bytes as backslash escapes)."""
    batch = chunk.batch
    assert batch is not None
    if is_valid(batch):
        return chunk, None
    rows = chunk.row_numbers()
    bad = BadRows("")
    keep = np.ones(batch.num_rows, dtype=bool)
    for i in range(batch.num_rows):  # rare: only chunks that failed validation get here
        row = batch.slice(i, 1)
        if is_valid(row):
            continue
        keep[i] = False
        names = [n for n in batch.schema.names if not is_valid(row.select([n]))]
        raw = (
            "{"
            + ", ".join(
                f"{json_text(n)}: {json_text(_as_text(batch.column(n), i))}"
                for n in batch.schema.names
            )
            + "}"
        )
        bad.add(rows[i], Malformed(raw, ""), reasons.MALFORMED_RECORD, f"invalid UTF-8 in {names}")
    mask = pa.array(keep)
    kept = RawChunk(
        chunk.source,
        chunk.start_row,
        batch=batch.filter(mask),
        bytes_done=chunk.bytes_done,
        rows=[r for r, k in zip(rows, keep, strict=True) if k],
    )
    return kept, bad.batch(chunk.source)


def merge_bad(first: pa.RecordBatch | None, second: pa.RecordBatch | None) -> pa.RecordBatch | None:
    if first is None or second is None:
        return first if second is None else second
    merged = pa.Table.from_batches([first, second])
    return merged.take(pc.sort_indices(merged.column(SOURCE_ROW))).combine_chunks().to_batches()[0]
