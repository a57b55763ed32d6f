"""Rows dropped by the reasons decided after the main pass: moved, and counted.

A reason decided at the end (a contradiction, a near-duplicate prompt, contamination,
length balance) may drop a row already kept, or add a reason to a row already dropped.
``apply_late``, the one applier of both engines, then writes each side once, both at
the same time: kept without those rows, dropped with them merged in read order and the
late codes added. The local engine applies it to the files and spools of its whole run
(``engines.local_outputs``), the Ray engine to each part that holds a late row.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from prefdata.chunks import as_dropped, concat_lists, reason_lists
from prefdata.dataset.along import _ROW_BITS, Late
from prefdata.parallel import WriteBehind
from prefdata.parallel_parquet import ParallelParquet
from prefdata.schema import REASONS
from prefdata.writer import ParquetSink, conform, widen


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


# the source file and source row of each moved row, from its key
Provenance = Callable[[np.ndarray], tuple[pa.Array, pa.Array]]


def read_order(sources: Sequence[str]) -> Provenance:
    """Provenance of ``row_keys`` keys: source number and row, ``sources`` by number."""
    names = np.asarray(sources, dtype=object)

    def provenance(keys: np.ndarray) -> tuple[pa.Array, pa.Array]:
        source = (keys >> np.int64(_ROW_BITS)).astype(np.int64)
        row = keys & np.int64((1 << _ROW_BITS) - 1)
        return pa.array(names[source], pa.string()), pa.array(row, pa.int64())

    return provenance


def _as_dropped(
    rows: pa.RecordBatch, late: LateRows, at: np.ndarray, keys: np.ndarray, where: Provenance
) -> pa.RecordBatch:
    return as_dropped(rows, reason_lists(late.codes, late.matrix[at]), *where(keys))


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


class _Moved:
    """Rows the kept side moves to dropped, handed from the thread writing kept.parquet
    to the one writing dropped.parquet, in key order. ``upto`` blocks until the kept
    side has gone past a key, so both files are written at once, in step."""

    _END = np.iinfo(np.int64).max

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[int, np.ndarray, pa.RecordBatch | None]] = (
            queue.SimpleQueue()
        )
        self._passed = -1  # every moved row with a key up to this one has been handed over
        self._held: list[tuple[np.ndarray, pa.RecordBatch]] = []

    def put(self, passed: int, keys: np.ndarray, rows: pa.RecordBatch | None) -> None:
        self._queue.put((passed, keys, rows))

    def end(self) -> None:
        self._queue.put((self._END, _NO_KEYS, None))

    def upto(self, bound: int) -> tuple[np.ndarray, list[pa.RecordBatch]]:
        """The moved rows with keys up to ``bound`` not handed out yet, and their keys."""
        while self._passed < bound:
            passed, keys, rows = self._queue.get()
            self._passed = passed
            if rows is not None and rows.num_rows:
                self._held.append((keys, rows))
        keys_out, rows_out = [], []
        while self._held:
            keys, rows = self._held[0]
            n = int(np.searchsorted(keys, bound, side="right"))
            if n == 0:
                break
            keys_out.append(keys[:n])
            rows_out.append(rows.slice(0, n))
            if n < len(keys):
                self._held[0] = (keys[n:], rows.slice(n))
                break
            self._held.pop(0)
        return (np.concatenate(keys_out) if keys_out else _NO_KEYS), rows_out


_NO_KEYS = np.zeros(0, np.int64)


def in_key_order(
    batch: pa.RecordBatch, keys: np.ndarray, extra: list[pa.RecordBatch], extra_keys: np.ndarray
) -> Iterator[pa.RecordBatch]:
    """``batch`` and ``extra`` rows (each in ascending key order) as rows in key order."""
    if not extra:
        yield batch
        return
    parts = [batch, *extra]
    schema = parts[0].schema
    for part in parts[1:]:
        schema = widen(schema, part.schema)
    fitted = [conform(p, schema, force=True) for p in parts]
    table = pa.Table.from_batches([f for f in fitted if f is not None], schema=schema)
    order = np.argsort(np.concatenate([keys, extra_keys]), kind="stable")
    yield from table.take(pa.array(order)).combine_chunks().to_batches()


def _write_kept(
    late: LateRows,
    kept: Iterable[pa.RecordBatch],
    keys: np.ndarray,
    out: Out,
    where: Provenance,
    moved: _Moved,
) -> None:
    """The kept rows without the late rows, which go to ``moved`` as dropped rows."""
    try:
        move, moved_at = late.find(keys)
        start = done = 0
        for batch in kept:
            stop = start + batch.num_rows
            here = move[start:stop]
            passed = int(keys[stop - 1]) if stop else -1
            if not here.any():
                out.write(batch)
                moved.put(passed, _NO_KEYS, None)
            else:
                out.write(batch.filter(pa.array(~here)))
                n = int(here.sum())
                rows, at = batch.filter(pa.array(here)), keys[start:stop][here]
                moved.put(passed, at, _as_dropped(rows, late, moved_at[done : done + n], at, where))
                done += n
            start = stop
    finally:
        moved.end()  # also when writing failed: the dropped side must not wait forever


def _write_dropped(
    late: LateRows,
    dropped: Iterable[pa.RecordBatch],
    keys: np.ndarray,
    out: Out,
    moved: _Moved,
) -> None:
    """The dropped rows with the late codes added, the moved rows merged in."""
    hit, hit_at = late.find(keys)
    hits_before = np.concatenate([[0], np.cumsum(hit)])  # where each batch's hits start
    start = 0
    for batch in dropped:
        stop = start + batch.num_rows
        if not batch.num_rows:
            continue
        found = hit[start:stop]
        first = int(hits_before[start])
        edited = _reasons_added(late, batch, found, hit_at[first : first + int(found.sum())])
        extra_keys, extra = moved.upto(int(keys[stop - 1]))
        for part in in_key_order(edited, keys[start:stop], extra, extra_keys):
            out.write(part)
        start = stop
    _, rest = moved.upto(_Moved._END)
    for part in rest:
        out.write(part)


class _Behind:
    """A sink whose writes (conforming, holding, encoding row groups) run on a thread
    of their own, so that reading the spool and filtering overlap with encoding."""

    def __init__(self, out: ParquetSink, writes: WriteBehind) -> None:
        self._out, self._writes = out, writes

    def write(self, batch: pa.RecordBatch) -> None:
        self._writes.submit(self._out.write, batch)


Out = ParquetSink | ParallelParquet | _Behind


def copy_rows(rows: Iterable[pa.RecordBatch], out: Out) -> None:
    for batch in rows:
        out.write(batch)


@dataclass
class Side:
    """One side of a result (kept or dropped) as the pass left it, and where it goes."""

    rows: Iterable[pa.RecordBatch]  # read once, in key order
    keys: np.ndarray  # each row's key, ascending
    out: ParquetSink | ParallelParquet
    empty: pa.Schema  # the file's schema when it gets no row


def apply_late(late: LateRows | None, kept: Side, dropped: Side, where: Provenance) -> None:
    """The one applier of late decisions, for both engines: write the kept rows without
    the late rows and the dropped rows with the late codes added and the late rows
    merged in, in key order; each row is encoded once, the two sides at once on two
    threads (encoding Parquet lets go of the GIL: the two take the time of the larger).

    The local engine applies it once, to the spools of the whole run; the Ray engine to
    each part that holds a late row, the other parts are not touched.
    """
    moved = _Moved()

    def kept_side() -> None:
        # the larger side, and the one the other waits on: its encoding gets a thread
        # (or several, ParallelParquet's own)
        try:
            with WriteBehind(depth=2) as writes:
                out: Out = (
                    _Behind(kept.out, writes) if isinstance(kept.out, ParquetSink) else kept.out
                )
                if late is None:
                    copy_rows(kept.rows, out)
                else:
                    _write_kept(late, kept.rows, kept.keys, out, where, moved)
                writes.drain()
        except BaseException:
            if isinstance(kept.out, ParallelParquet):
                kept.out.abort()
            raise
        kept.out.close(kept.empty)

    def dropped_side() -> None:
        if late is None:
            copy_rows(dropped.rows, dropped.out)
        else:
            _write_dropped(late, dropped.rows, dropped.keys, dropped.out, moved)
        dropped.out.close(dropped.empty)

    with ThreadPoolExecutor(1, thread_name_prefix="prefdata-kept") as pool:
        side = pool.submit(kept_side)
        try:
            dropped_side()
        finally:
            side.result()  # the kept side's error, if it failed, is the one to see
