"""One Parquet file encoded by several threads at once.

pyarrow's ``ParquetWriter`` encodes a file's row groups one after another on one thread,
and encoding (snappy included) is most of the cost of writing kept.parquet once the
dataset-level decisions are known: 0.6 s of a 1 s tail on 1M generated pairs, with the
other core idle. ``ParallelParquet`` hands whole row groups round-robin to one writer
per thread, each writing a part file of its own, and at ``close`` joins the parts'
row groups, in the order they were written, into one file without encoding anything
again: the row groups' bytes are copied (``os.copy_file_range``: inside the kernel) and
a new footer lists them at their new offsets.

The footer is Thrift's compact protocol (``thrift_compact`` reads and writes it as a
tree of fields); only what moving a row group changes is changed: its byte offsets, its ordinal
and the file's row count. A part that uses anything it does not know how to move (page
indexes, bloom filters, encryption, column chunks in other files) is refused; the parts
are written here, without any of those.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.thrift_compact import STRUCT, Fields, decode, encode
from prefdata.writer import RowGroup, conform, parquet_writer

MAGIC = b"PAR1"


def _field(fields: Fields, fid: int) -> list[Any] | None:
    return next((f for f in fields if f[0] == fid), None)


def read_footer(path: Path) -> Fields:
    """The FileMetaData of a Parquet file, as fields."""
    with open(path, "rb") as f:
        f.seek(-8, os.SEEK_END)
        tail = f.read(8)
        if tail[4:] != MAGIC:
            raise ValueError(f"{path}: not a Parquet file")
        size = int.from_bytes(tail[:4], "little")
        f.seek(-8 - size, os.SEEK_END)
        return decode(f.read(size))


# FileMetaData: 3 num_rows, 4 row_groups, 8/9 encryption. RowGroup: 1 columns,
# 5 file_offset, 7 ordinal. ColumnChunk: 1 file_path, 2 file_offset, 3 meta_data,
# 4/6 offset and column index, 8/9 encryption. ColumnMetaData: 7 total_compressed_size,
# 9 data_page_offset, 10 index_page_offset, 11 dictionary_page_offset, 14 bloom filter.
_UNMOVABLE = {"file": (8, 9), "chunk": (1, 4, 6, 8, 9), "column": (14,)}


def _extent(row_group: Fields) -> tuple[int, int]:
    """Where a row group's bytes start and end in its file (its column chunks, in a row)."""
    start, end, size = None, 0, 0
    columns = _field(row_group, 1)
    assert columns is not None
    for chunk in columns[2][1]:
        if any(_field(chunk, fid) for fid in _UNMOVABLE["chunk"]):
            raise ValueError("a column chunk this writer cannot move")
        meta = _field(chunk, 3)
        assert meta is not None
        if any(_field(meta[2], fid) for fid in _UNMOVABLE["column"]):
            raise ValueError("a column chunk with a bloom filter")
        dictionary = _field(meta[2], 11)
        first = dictionary if dictionary is not None and dictionary[2] > 0 else _field(meta[2], 9)
        length = _field(meta[2], 7)
        assert first is not None and length is not None
        start = first[2] if start is None else min(start, first[2])
        end = max(end, first[2] + length[2])
        size += length[2]
    if start is None or end - start != size:
        raise ValueError("a row group whose column chunks are not side by side")
    return start, end


def _shift(row_group: Fields, by: int, ordinal: int) -> None:
    """Move a row group's offsets by ``by`` bytes; give it its place in the new file."""
    f = _field(row_group, 5)
    if f is not None:
        f[2] += by
    ordinal_field = _field(row_group, 7)
    if ordinal_field is not None:
        ordinal_field[2] = ordinal
    columns = _field(row_group, 1)
    assert columns is not None
    for chunk in columns[2][1]:
        f = _field(chunk, 2)
        if f is not None and f[2]:  # deprecated: pyarrow writes 0, which means unset
            f[2] += by
        meta = _field(chunk, 3)
        assert meta is not None
        for fid in (9, 10, 11):
            f = _field(meta[2], fid)
            if f is not None:
                f[2] += by


def _copy(src: int, dst: int, start: int, length: int, at: int) -> None:
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst, length - done, start + done, at + done)
            if n == 0:
                raise OSError("copy_file_range copied nothing")
            done += n
    except (AttributeError, OSError):  # not Linux, or a filesystem that refuses it
        while done < length:
            chunk = os.pread(src, min(length - done, 8 << 20), start + done)
            if not chunk:
                raise OSError("a part file ended early") from None
            os.pwrite(dst, chunk, at + done)
            done += len(chunk)


def stitch(parts: Sequence[Path], order: Sequence[tuple[int, int]], out: Path) -> None:
    """Write ``out`` from the row groups of ``parts`` (Parquet files of one schema), in
    ``order``: (part, row group in that part) pairs. Nothing is decoded or encoded."""
    metas = [read_footer(p) for p in parts]
    for meta in metas:
        if any(_field(meta, fid) for fid in _UNMOVABLE["file"]):
            raise ValueError("an encrypted part")
    try:
        _join(parts, metas, order, out)
    except BaseException:
        out.unlink(missing_ok=True)  # never a half-joined file that looks like a result
        raise


def _join(
    parts: Sequence[Path], metas: list[Fields], order: Sequence[tuple[int, int]], out: Path
) -> None:
    groups = [_field(meta, 4) for meta in metas]
    row_groups: list[Fields] = []
    rows = 0
    fds = [os.open(p, os.O_RDONLY) for p in parts]
    try:
        out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(out_fd, MAGIC)
            at = len(MAGIC)
            for ordinal, (part, index) in enumerate(order):
                listed = groups[part]
                assert listed is not None
                row_group = decode(encode(listed[2][1][index]))  # a copy to change
                start, end = _extent(row_group)
                _copy(fds[part], out_fd, start, end - start, at)
                _shift(row_group, at - start, ordinal)
                num_rows = _field(row_group, 3)
                assert num_rows is not None
                rows += num_rows[2]
                row_groups.append(row_group)
                at += end - start
            meta = [list(f) for f in metas[0]]
            for f in meta:
                if f[0] == 3:
                    f[2] = rows
                elif f[0] == 4:
                    f[2] = (STRUCT, row_groups)
            footer = encode(meta)
            os.pwrite(out_fd, footer + len(footer).to_bytes(4, "little") + MAGIC, at)
        finally:
            os.close(out_fd)
    finally:
        for fd in fds:
            os.close(fd)
    written = pq.ParquetFile(out).metadata  # what any reader sees: refuse a bad join now
    if written.num_rows != rows or written.num_row_groups != len(order):
        raise ValueError(f"{out}: joined parts read back as {written.num_rows} rows")


def encoders() -> int:
    """Threads that encode one file at once: one per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


class ParallelParquet:
    """``path`` written by ``workers`` threads, as ``writer.ParquetSink`` writes it (the
    same row groups, the same encodings): rows held into row groups, each encoded by the
    next thread into a part file of its own, the parts stitched at ``close``. Every
    batch is conformed to ``schema``."""

    def __init__(self, path: Path, schema: pa.Schema, workers: int | None = None) -> None:
        workers = workers or encoders()
        self.path, self.schema = path, schema
        self._parts = [path.with_name(f"{path.name}.thread{k}") for k in range(workers)]
        self._pools = [
            ThreadPoolExecutor(1, thread_name_prefix="prefdata-encode") for _ in range(workers)
        ]
        self._writers: list[pq.ParquetWriter | None] = [None] * workers
        self._order: list[tuple[int, int]] = []
        self._counts = [0] * workers
        self._pending: deque[Future[None]] = deque()
        self._held = RowGroup()
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        fitted = conform(batch, self.schema, force=True)
        assert fitted is not None
        self.rows += fitted.num_rows
        if self._held.add(fitted):
            self._send()

    def _encode(self, k: int, table: pa.Table) -> None:
        writer = self._writers[k]
        if writer is None:
            writer = self._writers[k] = parquet_writer(self._parts[k], self.schema)
        writer.write_table(table, row_group_size=table.num_rows)

    def _send(self) -> None:
        table = self._held.take(self.schema)
        if table is None:
            return
        k = len(self._order) % len(self._pools)
        self._order.append((k, self._counts[k]))
        self._counts[k] += 1
        self._pending.append(self._pools[k].submit(self._encode, k, table))
        while len(self._pending) > len(self._pools):  # at most one row group a thread
            self._pending.popleft().result()

    def abort(self) -> None:
        """Stop after a failure elsewhere: no file at ``path``, no part left, no thread."""
        for future in self._pending:
            future.cancel()
        for pool in self._pools:
            pool.shutdown(wait=True)
        for writer in self._writers:
            if writer is not None:
                writer.close()
        for part in self._parts:
            part.unlink(missing_ok=True)

    def close(self, empty_schema: pa.Schema) -> None:
        """Finish ``path``; with no row written, an empty file in ``empty_schema``."""
        try:
            self._send()
            while self._pending:
                self._pending.popleft().result()
        finally:
            for pool in self._pools:
                pool.shutdown(wait=True)
            for writer in self._writers:
                if writer is not None:
                    writer.close()
        try:
            if not self._order:
                parquet_writer(self.path, self.schema if self.rows else empty_schema).close()
            elif len(self._order) == 1:
                os.replace(self._parts[0], self.path)  # one row group: its file is the file
            else:
                used = sorted({k for k, _ in self._order})  # threads 0..n-1 got one or more
                stitch(self._parts[: len(used)], self._order, self.path)
        finally:
            for part in self._parts:
                part.unlink(missing_ok=True)
