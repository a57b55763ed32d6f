"""Rows dropped by the reasons decided after the main pass: moved, and counted.

The main pass has written kept and dropped rows as they came. A reason decided at the
end (a contradiction, a near-duplicate prompt, contamination, length balance) may drop
a row already in kept, or add a reason to a row already in dropped. The first case
rewrites kept without those rows and appends them to dropped (after the rows dropped
by the main pass); the second rewrites dropped. Neither happens when the late reasons
drop nothing, which is the usual case, so the usual run writes its output once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.chunks import reason_lists
from prefdata.dataset.along import _ROW_BITS, Late
from prefdata.schema import RAW, REASONS, SOURCE_FILE, SOURCE_ROW
from prefdata.writer import ParquetSink


@dataclass
class LateRows:
    """The rows the late reasons drop, in read order, with their codes."""

    key: np.ndarray  # row_keys, ascending
    codes: list[str]
    matrix: np.ndarray  # rows x codes
    chosen_chars: np.ndarray
    rejected_chars: np.ndarray

    @classmethod
    def of(cls, late: Late) -> LateRows:
        hit = late.dropping()
        codes = list(late.masks)
        matrix = np.column_stack([late.masks[c][hit] for c in codes]).reshape(-1, len(codes))
        return cls(late.key[hit], codes, matrix, late.chosen_chars[hit], late.rejected_chars[hit])

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which of ``keys`` are late rows, their positions here)."""
        at = np.minimum(np.searchsorted(self.key, keys), max(len(self.key) - 1, 0))
        found = self.key[at] == keys if len(self.key) else np.zeros(len(keys), bool)
        return found, at[found]


def _as_dropped(
    rows: pa.RecordBatch, late: LateRows, at: np.ndarray, keys: np.ndarray, sources: Sequence[str]
) -> pa.RecordBatch:
    source = (keys >> np.int64(_ROW_BITS)).astype(np.int64)
    return pa.RecordBatch.from_arrays(
        [
            *rows.columns,
            reason_lists(late.codes, late.matrix[at]),
            pa.array(np.asarray(sources, dtype=object)[source], pa.string()),
            pa.array(keys & np.int64((1 << _ROW_BITS) - 1), pa.int64()),
            pa.nulls(rows.num_rows, pa.string()),
        ],
        names=[*rows.schema.names, REASONS, SOURCE_FILE, SOURCE_ROW, RAW],
    )


def move_kept(
    late: LateRows,
    kept: Path,
    kept_keys: np.ndarray,
    dropped: ParquetSink,
    sources: Sequence[str],
) -> np.ndarray:
    """Rewrite ``kept`` without its late rows, writing those to ``dropped`` (still open).

    Returns the positions in ``late`` of the rows moved.
    """
    move, at = late.find(kept_keys)
    tmp = kept.with_name(f".{kept.name}.late")
    file = pq.ParquetFile(kept)
    sink = ParquetSink(tmp, file.schema_arrow)
    start = 0
    for batch in file.iter_batches():
        stop = start + batch.num_rows
        here = move[start:stop]
        sink.write(batch.filter(pa.array(~here)))
        if here.any():
            first = int(move[:start].sum())
            picked = at[first : first + int(here.sum())]
            dropped.write(
                _as_dropped(
                    batch.filter(pa.array(here)), late, picked, kept_keys[start:stop][here], sources
                )
            )
        start = stop
    sink.close(file.schema_arrow)
    os.replace(tmp, kept)
    return at


def add_reasons(late: LateRows, dropped: Path, dropped_keys: np.ndarray) -> None:
    """Append the late codes to the rows of ``dropped``'s first ``len(dropped_keys)`` rows
    (those of the main pass) that they concern; rows moved from kept already have them.
    """
    found, at = late.find(dropped_keys)
    if not found.any():
        return
    tmp = dropped.with_name(f".{dropped.name}.late")
    file = pq.ParquetFile(dropped)
    sink = ParquetSink(tmp, file.schema_arrow)
    start = 0
    for batch in file.iter_batches():
        stop = min(start + batch.num_rows, len(found))
        here = np.flatnonzero(found[start:stop]) if start < stop else np.zeros(0, np.int64)
        if len(here):
            first = int(found[:start].sum())
            picked = at[first : first + len(here)]
            lists = batch.column(REASONS).to_pylist()
            for row, late_at in zip(here.tolist(), picked.tolist(), strict=True):
                lists[row] = lists[row] + [
                    c for j, c in enumerate(late.codes) if late.matrix[late_at, j]
                ]
            index = batch.schema.get_field_index(REASONS)
            batch = batch.set_column(
                index, batch.schema.field(index), pa.array(lists, batch.column(REASONS).type)
            )
        sink.write(batch)
        start += batch.num_rows
    sink.close(file.schema_arrow)
    os.replace(tmp, dropped)
