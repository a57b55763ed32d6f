"""Work units: small descriptions of where a run's chunks are, planned on the driver.

A distributed engine should not pull the data through one process. A unit names a
Parquet row group or a byte range of a plain JSON Lines file, which any node that can
read the path materialises into the very chunks the local engine would make (same
boundaries, same row numbers), so results match the local engine row for row. Inputs
that cannot be split without reading them (gzipped JSONL, JSON arrays, CSV,
``save_to_disk`` folders) are read here and their chunks travel inside the unit.

Nothing here imports Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers import InputInfo, Layout, agreed_shape, detect_input
from prefdata.readers.sources import RawChunk, _parquet_files, read_chunks, row_group_batches

# One unit is roughly this much input: big enough that per-task overhead (scheduling,
# opening files, one Parquet footer per part) vanishes, small enough that a 2-worker run
# of a 1 GB file still has ~30 units to balance.
UNIT_BYTES = 32 << 20


@dataclass
class WorkUnit:
    """One task's share of the input; ``index`` orders the output parts."""

    index: int
    input_index: int
    layout: Layout | None
    kind: str  # "parquet" | "jsonl" | "inline"
    source: str  # the path as given: what the rows' source_file says
    path: str = ""  # the same file made absolute: what a worker opens, whatever its cwd
    bytes: int = 0
    row_group: int = 0
    start_row: int = 0
    # jsonl: consecutive chunks as (start byte, length, first line number)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)
    # inline: the chunks themselves (or a handle the engine resolves to them)
    chunks: Any = None

    def raw_chunks(self, chunk_rows: int) -> Iterator[RawChunk]:
        """The unit's chunks, read where this runs (the path must be readable here)."""
        if self.kind == "parquet":
            pf = pq.ParquetFile(self.path)
            row = self.start_row
            for batch in row_group_batches(pf, self.source, self.row_group, chunk_rows):
                yield RawChunk(self.source, row, batch=batch)
                row += batch.num_rows
        elif self.kind == "jsonl":
            with open(self.path, "rb") as f:
                for start, length, line_no in self.ranges:
                    f.seek(start)
                    yield RawChunk(self.source, line_no, text=f.read(length))
        else:
            yield from self.chunks


@dataclass
class Plan:
    infos: list[InputInfo]
    units: list[WorkUnit]
    # what ``stash`` made of each unit, in unit order (empty without a stash)
    handles: list[Any] = field(default_factory=list)

    @property
    def shape(self) -> str | None:
        return next((i.shape for i in self.infos if i.shape is not None), None)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def plan_units(
    paths: Sequence[Path],
    options: ReadOptions,
    *,
    chunk_rows: int,
    unit_bytes: int | None = None,
    stash: Callable[[WorkUnit], Any] | None = None,
) -> Plan:
    """Detect every input and cut it into units; refuses inputs of mixed shapes up front.

    ``stash`` stores each unit as soon as it is planned (e.g. ``ray.put``) and its
    result goes to ``Plan.handles``; inline units then drop their chunks, so the planner
    never holds more than one unit of read data.
    """
    unit_bytes = unit_bytes or UNIT_BYTES
    plan = Plan([], [])
    shape: str | None = None
    for input_index, path in enumerate(paths):
        info, layout = detect_input(path, options)
        shape = agreed_shape(shape, info)
        plan.infos.append(info)
        if info.file_type == "parquet":
            found = _parquet_units(path, input_index, layout)
        elif info.file_type == "jsonl" and path.is_file() and not _is_gzip(path):
            found = _jsonl_units(path, input_index, layout, chunk_rows, unit_bytes)
        else:
            found = _inline_units(path, info.file_type, input_index, layout, chunk_rows, unit_bytes)
        for unit in found:
            unit.index = len(plan.units)
            if stash is not None:
                plan.handles.append(stash(unit))
                unit.chunks = None
            plan.units.append(unit)
    return plan


def _parquet_units(path: Path, input_index: int, layout: Layout | None) -> Iterator[WorkUnit]:
    # Row groups are the finest grain Parquet can be read at without decoding what
    # comes before; files written with one huge row group get one unit.
    for file in _parquet_files(path):
        try:
            meta = pq.ParquetFile(file).metadata
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {file} as Parquet: {exc}") from exc
        row = 0
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            yield WorkUnit(
                0,
                input_index,
                layout,
                "parquet",
                str(file),
                str(file.resolve()),
                bytes=group.total_byte_size,
                row_group=i,
                start_row=row,
            )
            row += group.num_rows


def _jsonl_units(
    path: Path, input_index: int, layout: Layout | None, chunk_rows: int, unit_bytes: int
) -> Iterator[WorkUnit]:
    # The local reader's own chunking, run here only to learn where chunks start: this
    # reads the bytes once (no parsing), so each unit knows its first line number.
    offset = 0
    unit: WorkUnit | None = None
    for chunk in read_chunks(path, "jsonl", chunk_rows):
        assert chunk.text is not None
        if unit is None:
            unit = WorkUnit(0, input_index, layout, "jsonl", str(path), str(path.resolve()))
        unit.ranges.append((offset, len(chunk.text), chunk.start_row))
        offset += len(chunk.text)
        unit.bytes += len(chunk.text)
        if unit.bytes >= unit_bytes:
            yield unit
            unit = None
    if unit is not None:
        yield unit


def _inline_units(
    path: Path,
    file_type: str,
    input_index: int,
    layout: Layout | None,
    chunk_rows: int,
    unit_bytes: int,
) -> Iterator[WorkUnit]:
    unit: WorkUnit | None = None
    size = 0
    for chunk in read_chunks(path, file_type, chunk_rows):
        if unit is None:
            unit = WorkUnit(0, input_index, layout, "inline", str(path), chunks=[])
            size = 0
        unit.chunks.append(chunk)
        size += _chunk_size(chunk)
        unit.bytes = size
        if size >= unit_bytes:
            yield unit
            unit = None
    if unit is not None:
        yield unit


def _chunk_size(chunk: RawChunk) -> int:
    if chunk.text is not None:
        return len(chunk.text)
    if chunk.batch is not None:
        return chunk.batch.nbytes
    return 1024 * len(chunk.records or ())  # a rough guess for parsed records


__all__ = ["UNIT_BYTES", "Plan", "WorkUnit", "plan_units"]
