"""The local engine's outputs around the late decisions: the dropped rows written
during the pass (``DroppedRows``) and the two files written from them and the kept
spool once the late decisions are known (``write_outputs``).

The main pass spools kept rows as they come (``writer.ArrowSpool``: uncompressed Arrow
IPC, cheap to write and read) and writes dropped rows to dropped.parquet. When no late
row touches dropped, the file written during the pass is the result, and only
kept.parquet is encoded at the end, on every core (``parallel_parquet``); when one does,
``dataset.late.apply_late`` writes both again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.dataset.late import LateRows, Side, apply_late, copy_rows, read_order
from prefdata.parallel_parquet import ParallelParquet
from prefdata.writer import ArrowSpool, conform, dropped_sink, widen


class DroppedRows:
    """The local engine's dropped rows during the pass, encoded to Parquet as they come,
    on the write-behind thread: the file itself when no late decision touches dropped,
    the common case. When one does, ``read_back`` hands that file's rows to
    ``apply_late``, batch by batch, and the result is written in its place.

    Once the pass has met a contradiction (``spool_from_now``), late decisions will
    touch dropped rows, and dropped.parquet will be written again: the rows from then on
    are spooled (uncompressed Arrow IPC, ``writer.ArrowSpool``) instead of encoded, to be
    encoded once, at the end. On 1M generated pairs, where the first contradiction comes
    in the first chunks, that spares encoding nearly all dropped rows during the pass and
    decoding them after it. A run with no contradiction never spools its dropped rows:
    spooling them all would leave dropped.parquet to encode after the pass (0.5 s of a
    2 s run on HH-RLHF, where nearly every pair is a duplicate)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parquet = dropped_sink(path)
        self.spool: ArrowSpool | None = None
        self._encoded = False  # any batch went to the Parquet file

    def write(self, batch: pa.RecordBatch) -> None:
        if self.spool is None:
            self._encoded = True
        (self.spool or self.parquet).write(batch)

    def spool_from_now(self) -> None:
        """Spool the rows written from now on (dropped.parquet will be written again)."""
        if self.spool is None:
            self.parquet.flush()
            self.spool = ArrowSpool(self.path.with_name(f"{self.path.name}.late"))

    def set_down(self) -> None:
        """Write out the rows held for the next row group and hand freed memory back:
        called before the dataset-level decisions, the run's peak of memory."""
        self.parquet.flush()
        pa.default_memory_pool().release_unused()

    def close(self, empty: pa.Schema) -> None:
        """dropped.parquet as the pass left it, the spooled rows written after the rest."""
        if self.spool is not None:
            for batch in self.spool.batches():
                self.parquet.write(batch)
        self.parquet.close(empty)

    def read_back(self, empty: pa.Schema) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
        """The rows written so far, as batches, and their schema; the file they were in
        is deleted once they have been read (``path`` is then free for the result)."""
        self.parquet.close(empty)
        passed = self.path.with_name(f"{self.path.name}.pass")
        os.replace(self.path, passed)
        schema = pq.read_schema(passed)
        spool = self.spool
        if spool is not None and spool.schema is not None:
            # as one file written all along would have it: the spool's schema when the
            # Parquet file got nothing (its columns in their order), else widened by it
            schema = widen(schema, spool.schema) if self._encoded else spool.schema

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                # batches of a chunk's size: a row group's default (64k rows) held 135 MiB
                # more at the run's end on 1M generated pairs
                for batch in pq.ParquetFile(passed).iter_batches(batch_size=8192):
                    yield _fit(batch, schema)
            finally:
                passed.unlink(missing_ok=True)
            if spool is not None:
                for batch in spool.batches():
                    yield _fit(batch, schema)

        return batches(), schema


def _fit(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    fitted = conform(batch, schema, force=True)
    assert fitted is not None
    return fitted


def write_outputs(
    late: LateRows | None,
    spools: tuple[ArrowSpool, DroppedRows],
    keys: tuple[np.ndarray, np.ndarray],
    empty: tuple[pa.Schema, pa.Schema],
    sources: Sequence[str],
) -> None:
    """The local engine's kept.parquet and dropped.parquet (the spools' paths), from its
    spools (``apply_late``). ``keys``: ``row_keys`` of each spool's rows, in their order
    (read order, ascending); ``empty``: each file's schema when it gets no row.
    """
    (kept, dropped), (kept_keys, dropped_keys) = spools, keys
    # every batch read back from the spool has its schema: one file, encoded by threads
    kept_out = ParallelParquet(kept.path, kept.schema or empty[0])
    kept_side = Side(kept.batches(), kept_keys, kept_out, empty[0])
    touched = late is not None and (
        bool(late.find(kept_keys)[0].any()) or bool(late.find(dropped_keys)[0].any())
    )
    if not touched:  # dropped.parquet is done: only kept is left to write
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="prefdata-kept") as pool:
                side = pool.submit(copy_rows, kept_side.rows, kept_side.out)
                try:
                    dropped.close(empty[1])
                finally:
                    side.result()
        except BaseException:
            kept_out.abort()
            raise
        kept_out.close(empty[0])
        return
    rows, schema = dropped.read_back(empty[1])
    apply_late(
        late,
        kept_side,
        Side(rows, dropped_keys, dropped_sink(dropped.path, schema), empty[1]),
        read_order(sources),
    )
