"""Rows dropped by the reasons decided after the main pass: moved, and counted.

The main pass spools kept rows as they come (``writer.ArrowSpool``) and writes dropped
rows to dropped.parquet. A reason decided at the end (a contradiction, a near-duplicate
prompt, contamination, length balance) may drop a row already kept, or add a reason to
a row already dropped. ``write_outputs`` writes kept.parquet once, from the spool,
without those rows; dropped.parquet, usually the smaller file, is rewritten with them
merged in read order and the late codes added, and only when the late reasons touch it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.chunks import as_dropped, concat_lists, reason_lists
from prefdata.dataset.along import _ROW_BITS, Late
from prefdata.schema import REASONS
from prefdata.writer import ArrowSpool, ParquetSink, conform, widen


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
    return as_dropped(
        rows,
        reason_lists(late.codes, late.matrix[at]),
        pa.array(np.asarray(sources, dtype=object)[source], pa.string()),
        pa.array(keys & np.int64((1 << _ROW_BITS) - 1), pa.int64()),
    )


def _reasons_added(
    late: LateRows, batch: pa.RecordBatch, found: np.ndarray, at: np.ndarray
) -> pa.RecordBatch:
    """``batch`` with the late codes appended to the reasons of its ``found`` rows."""
    if not found.any():
        return batch
    appended = np.zeros((batch.num_rows, len(late.codes)), bool)
    appended[found] = late.matrix[at]
    reasons = concat_lists(batch.column(REASONS), reason_lists(late.codes, appended))
    index = batch.schema.get_field_index(REASONS)
    return batch.set_column(index, batch.schema.field(index), reasons)


Keyed = Iterator[tuple[np.ndarray, pa.Table]]  # (row keys ascending, rows)


def _keyed(
    batches: Iterator[pa.RecordBatch],
    keys: np.ndarray,
    edit: Callable[[pa.RecordBatch, int], pa.RecordBatch],
) -> Keyed:
    start = 0
    for batch in batches:
        stop = start + batch.num_rows
        yield keys[start:stop], pa.Table.from_batches([edit(batch, start)])
        start = stop


def _merged(left: Keyed, right: Keyed, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Two streams of rows, each in ascending key order, as one stream in key order."""
    streams = [left, right]
    held: list[tuple[np.ndarray, pa.Table] | None] = [None, None]
    while True:
        for i in (0, 1):
            while held[i] is None or not len(held[i][0]):  # type: ignore[index]
                held[i] = next(streams[i], None)
                if held[i] is None:
                    break
        live = [h for h in held if h is not None]
        if not live:
            return
        # rows up to the smaller of the two buffers' last keys are safe to emit
        bound = min(int(h[0][-1]) for h in live) if len(live) == 2 else int(live[0][0][-1])
        keys, parts = [], []
        for i, h in enumerate(held):
            if h is None:
                continue
            n = int(np.searchsorted(h[0], bound, side="right"))
            keys.append(h[0][:n])
            parts.append(conform_table(h[1].slice(0, n), schema))
            held[i] = (h[0][n:], h[1].slice(n))
        order = np.argsort(np.concatenate(keys), kind="stable")
        yield from pa.concat_tables(parts).take(pa.array(order)).to_batches()


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    batches = [conform(b, schema, force=True) for b in table.combine_chunks().to_batches()]
    return pa.Table.from_batches([b for b in batches if b is not None], schema=schema)


def write_outputs(
    late: LateRows | None,
    kept: ArrowSpool,
    kept_keys: np.ndarray,
    kept_out: ParquetSink,
    dropped: Path,
    dropped_keys: np.ndarray,
    sources: Sequence[str],
) -> None:
    """Write the spooled kept rows to ``kept_out`` once, without the late rows, and move
    those into the finished ``dropped`` file, in read order, adding the late codes to the
    rows already there; ``dropped`` is rewritten only when the late reasons touch it.

    ``kept_keys`` and ``dropped_keys``: ``row_keys`` of the spool's and the file's rows,
    in their order (read order, so ascending).
    """
    if late is None:
        for batch in kept.batches():
            kept_out.write(batch)
        return
    move, moved_at = late.find(kept_keys)
    hit, hit_at = late.find(dropped_keys)
    gone = ArrowSpool(dropped.with_name(f".{dropped.name}.moved"))
    start = done = 0
    for batch in kept.batches():
        stop = start + batch.num_rows
        here = move[start:stop]
        if not here.any():
            kept_out.write(batch)
        else:
            kept_out.write(batch.filter(pa.array(~here)))
            n = int(here.sum())
            rows, keys = batch.filter(pa.array(here)), kept_keys[start:stop][here]
            gone.write(_as_dropped(rows, late, moved_at[done : done + n], keys, sources))
            done += n
        start = stop
    if not move.any() and not hit.any():
        return
    schema = pq.read_schema(dropped)
    if gone.schema is not None:
        schema = widen(schema, gone.schema)

    hits_before = np.concatenate([[0], np.cumsum(hit)])  # where each batch's hits start

    def with_reasons(batch: pa.RecordBatch, start: int) -> pa.RecordBatch:
        found = hit[start : start + batch.num_rows]
        first = int(hits_before[start])
        return _reasons_added(late, batch, found, hit_at[first : first + int(found.sum())])

    tmp = dropped.with_name(f".{dropped.name}.late")
    sink = ParquetSink(tmp, schema)
    main_rows = _keyed(pq.ParquetFile(dropped).iter_batches(), dropped_keys, with_reasons)
    moved_rows = _keyed(gone.batches(), kept_keys[move], lambda b, _: b)
    for batch in _merged(main_rows, moved_rows, schema):
        sink.write(batch)
    sink.close(schema)
    os.replace(tmp, dropped)
