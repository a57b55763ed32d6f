"""Raw record sources: each file type streamed as chunks of records, memory bounded.

A chunk (``readers.chunk``) holds either Python records (JSON inputs: dicts, or ``Malformed`` markers for
lines that did not parse) or an Arrow record batch (Parquet, CSV, ``save_to_disk``
folders). Normalising records into the canonical pair schema happens in ``layouts``.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from prefdata.errors import InputError
from prefdata.readers.chunk import Malformed, RawChunk, parse_line
from prefdata.readers.compressed import blocks, open_binary, truncated_note
from prefdata.readers.digest import InputDigest
from prefdata.readers.json_array import read_json_array

__all__ = [
    "BLOCK_BYTES",
    "READERS",
    "Malformed",  # re-exported: chunks live in readers.chunk
    "RawChunk",
    "detect_file_type",
    "missing_message",
    "parse_line",
    "read_chunks",
    "read_json_array",
    "row_group_batches",
    "unreadable",
]

# 4 MiB blocks: large enough that per-block overhead vanishes, small enough that
# memory stays flat whatever the file size.
BLOCK_BYTES = 4 << 20


def unreadable(path: str | Path, exc: Exception, where: str = "") -> InputError:
    """The one-line error for an input that fails while it is being read.

    An error from the system (the disk, a network filesystem) is said as the system
    says it; anything else is the file's own bytes failing to decode (Arrow's messages
    span lines: "Couldn't deserialize thrift ... Deserializing page header failed."),
    said on one line with the fix.
    """
    at = f" ({where})" if where else ""
    if isinstance(exc, OSError) and exc.errno is not None:
        return InputError(f"cannot read {path}{at}: {exc.strerror or exc}")
    reason = " ".join(str(exc).split()).rstrip(" .") or type(exc).__name__
    # the message may quote the damaged bytes themselves: never a control byte on a terminal
    reason = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in reason)
    return InputError(
        f"cannot read {path}{at}: {reason}; the file looks damaged or cut short: "
        "download or write it again"
    )


# what reading a damaged file raises, mid-read; an error prefdata raises on purpose
# (InputError) and running out of memory pass through
_READ_FAILURES = (OSError, pa.ArrowException)

T = TypeVar("T")


def _said(items: Iterator[T], say: Callable[[Exception], InputError]) -> Iterator[T]:
    """``items``; a failure to read the next one raised as ``say(failure)``."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except _READ_FAILURES as exc:
            if isinstance(exc, MemoryError):
                raise
            raise say(exc) from None
        yield item


def read_chunks(
    path: Path, file_type: str, chunk_rows: int, digest: InputDigest | None = None
) -> Iterator[RawChunk]:
    """``READERS[file_type]``'s chunks of ``path``; a failure while reading them is an
    ``InputError`` of one line (``unreadable``), never a traceback. Every reader is read
    through here."""
    reader = READERS[file_type](path, chunk_rows, digest)
    return _said(reader, lambda exc: unreadable(path, exc))


def row_group_batches(
    pf: pq.ParquetFile, file: str | Path, index: int, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    """Row group ``index`` of a Parquet file in batches of ``chunk_rows``; a row group
    that fails to decode is an ``InputError`` naming the file and the row group. Both
    engines read Parquet row groups through here."""
    batches = pf.iter_batches(batch_size=chunk_rows, row_groups=[index])
    return _said(batches, lambda exc: unreadable(file, exc, f"row group {index}"))


def read_jsonl(
    path: Path, chunk_rows: int, digest: InputDigest | None = None
) -> Iterator[RawChunk]:
    """JSON Lines (also gzipped), in chunks of whole lines: at most ``chunk_rows`` lines
    and about ``BLOCK_BYTES``, which bounds memory even when responses are megabytes long.
    """
    stream, raw = open_binary(path, digest)
    with raw:
        line_no = 0
        # the unfinished line's pieces, joined once when its newline comes: appending
        # block to block would copy a long line once per block (quadratic)
        pieces: list[bytes] = []
        for block in blocks(stream, path, BLOCK_BYTES):
            if block is None:  # the file ends early: what was read still counts
                # pieces hold only the unfinished line: line_no lines came before it
                text, note = b"".join(pieces), truncated_note(path, line_no)
                yield RawChunk(str(path), line_no, text=text, bytes_done=raw.tell(), note=note)
                return
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block: keep reading
                pieces.append(block)
                continue
            text = b"".join([*pieces, block[:cut]]) if pieces else block[:cut]
            pieces = [block[cut:]] if cut < len(block) else []
            # counted once here, used by the parser too: a pass over the bytes is not free
            for part, newlines in _split_lines(text, chunk_rows):
                yield RawChunk(
                    str(path), line_no, text=part, bytes_done=raw.tell(), newlines=newlines
                )
                line_no += newlines
        if pieces:
            yield RawChunk(str(path), line_no, text=b"".join(pieces), bytes_done=raw.tell())


def _split_lines(text: bytes, most: int) -> Iterator[tuple[bytes, int]]:
    """``text`` (whole lines) in pieces of at most ``most`` lines, with their line counts."""
    # numpy counts twice as fast as bytes.count, and lets go of the GIL while it does
    lines = int(np.count_nonzero(np.frombuffer(text, np.uint8) == ord("\n")))
    if lines <= most:
        yield text, lines
        return
    start = 0
    while start < len(text):
        end = start
        for _ in range(most):
            end = text.find(b"\n", end) + 1
            if end == 0:
                end = len(text)
                break
        piece = text[start:end]
        yield piece, piece.count(b"\n")
        start = end


def read_csv(path: Path, chunk_rows: int, digest: InputDigest | None = None) -> Iterator[RawChunk]:
    """CSV (or TSV by suffix), every column read as text; unparseable rows are kept."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    bad: list[Malformed] = []

    def on_invalid(row: Any) -> str:
        bad.append(
            Malformed(
                row.text or "",
                f"CSV row {row.number}: expected "
                f"{row.expected_columns} columns, got {row.actual_columns}",
            )
        )
        return "skip"

    try:
        with open(path, "rb") as raw:
            header = pacsv.open_csv(
                raw, parse_options=pacsv.ParseOptions(delimiter=delimiter)
            ).schema.names
        reader = pacsv.open_csv(
            digest.open(path) if digest is not None else path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            # bytes first: a string column refuses the whole file on one invalid byte;
            # rows with invalid UTF-8 are found and dropped when the chunk is normalised
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in header},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as CSV: {exc}") from exc
    row = 0
    size = path.stat().st_size
    for binary in reader:
        batch = pa.RecordBatch.from_arrays(
            [c.view(pa.string()) for c in binary.columns], names=binary.schema.names
        )
        for start in range(0, batch.num_rows, chunk_rows):
            part = batch.slice(start, chunk_rows)
            yield RawChunk(str(path), row, batch=part, bytes_done=size)
            row += part.num_rows
        if bad:
            yield RawChunk(str(path), row, records=list(bad), bytes_done=size)
            row += len(bad)
            bad.clear()


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
        if not files:
            raise InputError(f"no .parquet files in folder {path}")
        return files
    return [path]


def _row_group_end(meta: pq.RowGroupMetaData) -> int:
    """The byte just past a row group's column chunks."""
    end = 0
    for j in range(meta.num_columns):
        column = meta.column(j)
        start = column.dictionary_page_offset or column.data_page_offset
        end = max(end, start + column.total_compressed_size)
    return end


def read_parquet(
    path: Path, chunk_rows: int, digest: InputDigest | None = None
) -> Iterator[RawChunk]:
    """A Parquet file, or every ``*.parquet`` below a folder, batch by batch.

    With ``digest``, each row group's bytes are hashed once pyarrow has read them (in
    the page cache then): pyarrow reads by ranges, footer first, so not through a stream.
    """
    for file in _parquet_files(path):
        try:
            pf = pq.ParquetFile(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read {file} as Parquet: {exc}") from exc
        row = 0
        size = file.stat().st_size
        groups = max(pf.num_row_groups, 1)
        for i in range(pf.num_row_groups):
            for batch in row_group_batches(pf, file, i, chunk_rows):
                yield RawChunk(str(file), row, batch=batch, bytes_done=size * (i + 1) // groups)
                row += batch.num_rows
            if digest is not None:
                digest.upto(file, _row_group_end(pf.metadata.row_group(i)))


def read_hf_disk(
    path: Path, chunk_rows: int, digest: InputDigest | None = None
) -> Iterator[RawChunk]:
    """A folder written by ``datasets.Dataset.save_to_disk`` (Arrow stream files)."""
    if (path / "dataset_dict.json").exists():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").exists())
        raise InputError(
            f"{path} is a DatasetDict; pass one split folder, e.g. {path / (splits or ['train'])[0]}"
        )
    state = json.loads((path / "state.json").read_text())
    row = 0
    for entry in state.get("_data_files", []):
        file = path / entry["filename"]
        with pa.memory_map(str(file)) as source:
            reader = pa.ipc.open_stream(source)
            for batch in reader:
                for start in range(0, batch.num_rows, chunk_rows):
                    part = batch.slice(start, chunk_rows)
                    yield RawChunk(str(path), row, batch=part, bytes_done=0)
                    row += part.num_rows
            if digest is not None:  # from the mapping: the pages just read
                digest.mapped(file, source.read_at(source.size(), 0))


READERS = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_csv,
    "parquet": read_parquet,
    "hf": read_hf_disk,
}


def missing_message(path: Path) -> str:
    """Why ``path`` cannot be opened, for a path that does not exist."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python 3.12 reports a loop this way
            return f"{path} is a symlink loop: point it at a real file"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{path} is a symlink loop: point it at a real file"
            return f"{path} is a broken symlink (its target does not exist)"
    return f"no such file or folder: {path}"


def detect_file_type(path: Path) -> str:
    """Guess the container from the path and, for JSON, the first byte."""
    if not path.exists():
        raise InputError(missing_message(path))
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        if any(path.rglob("*.parquet")):
            return "parquet"
        raise InputError(
            f"{path} is a folder with no .parquet files and no datasets save_to_disk layout"
        )
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    stream, raw = open_binary(path)
    with raw:
        # through blocks: a plain read of a truncated gzip raises EOFError and drops
        # what it had decompressed; a corrupt one gets the one-line message
        first = next(blocks(stream, path, 4096), None)
    head = (first or b"").lstrip()
    if not head:
        return "jsonl"  # empty: reads as no records, and says so
    if head[:1] == b"[":
        return "json"
    if head[:1] == b"{":
        return "jsonl"
    if head[:4] == b"PAR1":
        return "parquet"
    raise InputError(
        f"cannot tell the file type of {path}: pass --file-type (one of {sorted(READERS)})"
    )
