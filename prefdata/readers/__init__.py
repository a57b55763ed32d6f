"""Readers: any supported input -> a stream of canonical pair batches.

>>> from prefdata.readers import read_pairs  # doctest: +SKIP
>>> for item in read_pairs(["data.jsonl"]):  # doctest: +SKIP
...     item.normalized.good  # canonical Arrow batch
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers.bad_rows import bad_batch, json_text
from prefdata.readers.chunk import Malformed, RawChunk, parse_line
from prefdata.readers.digest import InputDigest
from prefdata.readers.layouts import Layout, detect_layout
from prefdata.readers.normalize import Normalized, Warnings, normalize
from prefdata.readers.sources import detect_file_type, read_chunks
from prefdata.schema import canonical_fields, provenance_fields

__all__ = [
    "InputInfo",
    "Layout",
    "ReadItem",
    "agreed_shape",
    "detect_input",
    "iter_chunks",
    "normalize_chunk",
    "read_pairs",
]


@dataclass
class InputInfo:
    """What was learnt about one input while reading it."""

    path: str
    file_type: str
    layout: str | None = None
    shape: str | None = None
    rows: int = 0
    bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None  # of its bytes on disk, taken while reading (readers.digest)


@dataclass
class ReadItem:
    info: InputInfo
    normalized: Normalized
    rows: int  # input rows this item accounts for
    bytes_done: int


def agreed_shape(shape: str | None, info: InputInfo) -> str | None:
    """The run's shape once ``info`` is read: inputs of one run must share a shape."""
    if info.shape is None or shape is None:
        return shape or info.shape
    if info.shape != shape:
        raise InputError(
            f"{info.path} is {info.shape} but earlier inputs are {shape}: "
            "curate them in separate runs"
        )
    return shape


def _first_record(chunk: RawChunk) -> Mapping[str, Any] | None:
    if chunk.batch is not None:
        for i in range(chunk.batch.num_rows):
            try:
                return chunk.batch.slice(i, 1).to_pylist()[0]
            except UnicodeDecodeError:  # invalid UTF-8: dropped later, not a layout guide
                continue
        return None
    if chunk.text is not None:
        for _, line in chunk.lines():
            record = parse_line(line)
            if isinstance(record, Mapping):
                return record
        return None
    for record in chunk.records or ():
        if isinstance(record, Mapping):
            return record
    return None


def _all_malformed(chunk: RawChunk) -> Normalized:
    """Rows of an input in which no record could be read at all."""
    records = chunk.parsed()
    rows = chunk.row_numbers()
    raws = [r.raw if isinstance(r, Malformed) else json_text(r) for r in records]
    details: list[str | None] = [
        r.error if isinstance(r, Malformed) else "not a JSON object" for r in records
    ]
    schema = pa.schema([*canonical_fields("text"), *provenance_fields()[1:3]])
    good = pa.RecordBatch.from_pylist([], schema)
    codes = [reasons.MALFORMED_RECORD] * len(rows)
    return Normalized(good, bad_batch(chunk.source, rows, raws, codes, details=details))


def _path_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def detect_input(
    path: str | Path, options: ReadOptions | None = None
) -> tuple[InputInfo, Layout | None]:
    """File type and layout of one input, from its first records."""
    options = options or ReadOptions()
    path = Path(path)
    file_type = options.file_type if options.file_type != "auto" else detect_file_type(path)
    info = InputInfo(str(path), file_type, bytes=_path_size(path))
    for chunk in read_chunks(path, file_type, 256):
        record = _first_record(chunk)
        if record is not None:
            layout = detect_layout(record, options, source=str(path))
            info.layout, info.shape = layout.name, layout.shape
            return info, layout
    return info, None


def iter_chunks(
    paths: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    chunk_rows: int = 8192,
) -> Iterator[tuple[InputInfo, Layout | None, RawChunk]]:
    """Every input's raw chunks, in input order, with the layout detected for it.

    ``InputInfo.rows`` is left for the caller to count (chunks are not parsed here);
    ``InputInfo.sha256`` is set once an input is read to its end.

    The layout is None only for chunks of an input in which no record parsed at all.
    Raises InputError for an input that cannot be read (missing file, unknown layout).
    """
    options = options or ReadOptions()
    for raw_path in paths:
        path = Path(raw_path)
        file_type = options.file_type if options.file_type != "auto" else detect_file_type(path)
        info = InputInfo(str(path), file_type, bytes=_path_size(path))
        layout: Layout | None = None
        pending: list[RawChunk] = []
        digest = InputDigest(path)
        for chunk in read_chunks(path, file_type, chunk_rows, digest):
            if layout is None:
                record = _first_record(chunk)
                if record is None:
                    pending.append(chunk)
                    continue
                layout = detect_layout(record, options, source=str(path))
                info.layout, info.shape = layout.name, layout.shape
            for item in (*pending, chunk):
                yield info, layout, item
            pending.clear()
        info.sha256 = digest.hexdigest()  # the reader is done with the input
        for item in pending:
            yield info, None, item


def normalize_chunk(chunk: RawChunk, layout: Layout | None, warnings: Warnings) -> Normalized:
    """Canonical rows of a chunk plus its structurally bad rows."""
    if chunk.note:  # said even when no row of the input could be read (no layout)
        warnings.add(chunk.note)
    if layout is None:
        return _all_malformed(chunk)
    return normalize(chunk, layout, warnings)


def read_pairs(
    paths: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    chunk_rows: int = 8192,
    warnings: Warnings | None = None,
) -> Iterator[ReadItem]:
    """Stream every input as canonical batches, in input order.

    Rows that cannot be read come out in ``normalized.bad`` with a reason.
    """
    warnings = warnings if warnings is not None else Warnings()
    for info, layout, chunk in iter_chunks(paths, options, chunk_rows=chunk_rows):
        rows = len(chunk)
        info.rows += rows
        yield ReadItem(info, normalize_chunk(chunk, layout, warnings), rows, chunk.bytes_done)
