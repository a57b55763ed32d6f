"""Raw record sources: each file type streamed as chunks of records, memory bounded.

A chunk holds either Python records (JSON inputs: dicts, or ``Malformed`` markers for
lines that did not parse) or an Arrow record batch (Parquet, CSV, ``save_to_disk``
folders). Normalising records into the canonical pair schema happens in ``layouts``.
"""

from __future__ import annotations

import errno
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from prefdata.errors import InputError
from prefdata.readers.json_array import ArraySplitter, as_line

# 4 MiB blocks: large enough that per-block overhead vanishes, small enough that
# memory stays flat whatever the file size.
BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class Malformed:
    """A record that could not be parsed; ``raw`` keeps its text so nothing is lost."""

    raw: str
    error: str


@dataclass
class RawChunk:
    """One chunk of a source: records start at ``start_row`` (0-based).

    JSON Lines chunks carry their bytes unsplit and unparsed (``text``: whole lines, the
    first being line ``start_row``), so that splitting and parsing happen where the chunk
    is processed (possibly another thread or node), not in the reading loop. Blank lines are
    not records; row numbers stay line numbers.
    """

    source: str
    start_row: int
    records: list[Any] | None = None
    batch: pa.RecordBatch | None = None
    text: bytes | None = field(default=None, repr=False)
    bytes_done: int = 0
    newlines: int | None = None  # b"\n" in ``text``, when the reader counted them
    # said once by whoever normalises the chunk (e.g. the file ended early)
    note: str | None = None
    rows: list[int] | None = None  # a batch's row numbers when not consecutive
    _lines: list[tuple[int, bytes]] | None = field(default=None, repr=False)

    def lines(self) -> list[tuple[int, bytes]]:
        """(row number, line) for each non-blank line of a JSON Lines chunk."""
        if self._lines is None:
            assert self.text is not None
            split = self.text.split(b"\n")
            if split and split[-1] == b"":
                split.pop()
            self._lines = [
                (self.start_row + i, line) for i, line in enumerate(split) if line.strip()
            ]
        return self._lines

    def __getstate__(self) -> dict[str, Any]:
        # the split lines are a cache: ship the bytes once, not twice
        return {**self.__dict__, "_lines": None}

    def __len__(self) -> int:
        if self.batch is not None:
            return self.batch.num_rows
        if self.text is not None:
            return len(self.lines())
        return len(self.records or ())

    def row_numbers(self) -> list[int]:
        if self.rows is not None:
            return self.rows
        if self.text is not None:
            return [row for row, _ in self.lines()]
        return list(range(self.start_row, self.start_row + len(self)))

    def parsed(self) -> list[Any]:
        """The chunk's records as Python objects (parsing JSON lines if needed)."""
        if self.text is not None:
            return [parse_line(line) for _, line in self.lines()]
        if self.batch is not None:
            try:
                return self.batch.to_pylist()
            except UnicodeDecodeError:
                return [_row_or_malformed(self.batch, i) for i in range(self.batch.num_rows)]
        return self.records or []


def _row_or_malformed(batch: pa.RecordBatch, i: int) -> Any:
    row = batch.slice(i, 1)
    try:
        return row.to_pylist()[0]
    except UnicodeDecodeError as exc:
        texts = {}
        for name in row.schema.names:
            column = row.column(name)
            if pa.types.is_string(column.type) or pa.types.is_binary(column.type):
                value = column.view(pa.binary())[0].as_py()
                texts[name] = None if value is None else value.decode("utf-8", "backslashreplace")
        raw = orjson.dumps(texts).decode()
        return Malformed(raw, f"invalid UTF-8: {exc.reason}")


def _open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """Open a possibly gzipped file; returns (decompressed stream, raw file for progress)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return io.BufferedReader(_gzip_reader(raw), BLOCK_BYTES), raw
    return raw, raw


def _gzip_reader(raw: BinaryIO) -> Any:
    # ISA-L's inflate is about 3x faster than zlib's; decompression is the one part of
    # reading that cannot be spread over threads
    try:
        from isal import isal_zlib as zlib_module
    except ImportError:  # pragma: no cover - isal ships wheels for the common platforms
        import zlib as zlib_module  # type: ignore[no-redef]
    return _GzipStream(raw, zlib_module)


class _GzipStream(io.RawIOBase):
    """Gzip (all members) decompressed as a stream that keeps every byte it could
    decompress: a truncated file gives all its data, then EOFError. (GzipFile and
    IGzipFile raise at the end and drop what that read had decompressed.)"""

    def __init__(self, raw: BinaryIO, zlib_module: Any) -> None:
        self._raw, self._zlib = raw, zlib_module
        self._inflate = zlib_module.decompressobj(31)
        self._pending = memoryview(b"")  # decompressed, not yet handed out
        self._truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending):
            if self._truncated:
                raise EOFError("Compressed file ended before the end-of-stream marker")
            data = self._raw.read(1 << 20)
            if not data:
                if not self._inflate.eof:
                    self._truncated = True
                    continue
                return 0
            parts = []
            while data:
                parts.append(self._inflate.decompress(data))
                data = self._inflate.unused_data
                if self._inflate.eof and data:  # the next member of a multi-member file
                    self._inflate = self._zlib.decompressobj(31)
            self._pending = memoryview(b"".join(parts))
        # hand out a view: slicing bytes would copy the rest on every call
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def parse_line(line: bytes) -> Any:
    """One JSON line, or ``Malformed`` keeping its text."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Malformed(line.decode("utf-8", "backslashreplace"), f"invalid JSON: {exc}")


def truncated_note(path: Path, rows: int) -> str:
    return (
        f"{path} is truncated: its compressed stream ends early, after {rows:,} rows; "
        "the rows read are curated and counted, the rest are missing: download or "
        "compress the file again"
    )


# read1's size per call: a decompressor that hits the end of a truncated stream raises
# and drops what the call had decompressed, so calls are kept small
_READ_BYTES = 256 << 10


def _blocks(stream: BinaryIO, path: Path) -> Iterator[bytes | None]:
    """The stream's blocks of about BLOCK_BYTES; None (once, last) when a gzip stream
    ends early, after the data read before that point."""
    # read1 hands over what was decompressed so far: a single read() of a truncated
    # stream would raise and lose the whole block
    read = getattr(stream, "read1", stream.read)
    while True:
        parts: list[bytes] = []
        size = 0
        try:
            while size < BLOCK_BYTES:
                part = read(min(BLOCK_BYTES - size, _READ_BYTES))
                if not part:
                    break
                parts.append(part)
                size += len(part)
        except EOFError:  # gzip and ISA-L both say "ended before the end-of-stream marker"
            if parts:
                yield b"".join(parts)
            yield None
            return
        except Exception as exc:  # zlib.error, IsalError, BadGzipFile: corrupt, not short
            raise InputError(
                f"cannot read {path}: its compressed data is corrupt ({exc}); "
                "download or compress the file again"
            ) from exc
        if not parts:
            return
        yield b"".join(parts)


def read_jsonl(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """JSON Lines (also gzipped), in chunks of whole lines: at most ``chunk_rows`` lines
    and about ``BLOCK_BYTES``, which bounds memory even when responses are megabytes long.
    """
    stream, raw = _open_binary(path)
    with raw:
        line_no = 0
        # the unfinished line's pieces, joined once when its newline comes: appending
        # block to block would copy a long line once per block (quadratic)
        pieces: list[bytes] = []
        for block in _blocks(stream, path):
            if block is None:  # the file ends early: what was read still counts
                text = b"".join(pieces)
                note = truncated_note(path, line_no + text.count(b"\n"))
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


def read_json_array(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """A JSON array of records, streamed element by element (memory bounded by the
    largest element); a file that is not an array gets a message saying what it holds.
    """
    stream, raw = _open_binary(path)
    with raw:
        head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
        if head.lstrip()[:1] == b"[":
            yield from stream_json_array(stream, raw, path, chunk_rows)
            return
        data = stream.read()
    yield from _whole_json(path, data, chunk_rows)


def stream_json_array(
    stream: BinaryIO, raw: BinaryIO, path: Path, chunk_rows: int
) -> Iterator[RawChunk]:
    """A JSON array's elements as chunks of JSON lines (row number = element index)."""
    splitter = ArraySplitter()
    lines: list[bytes] = []
    size = row = 0

    def chunk(note: str | None = None) -> RawChunk:
        nonlocal lines, size, row
        text = b"".join(line + b"\n" for line in lines)
        out = RawChunk(
            str(path), row, text=text, bytes_done=raw.tell(), newlines=len(lines), note=note
        )
        row += len(lines)
        lines, size = [], 0
        return out

    for block in _blocks(stream, path):
        if block is None:
            break
        for element in splitter.feed(block):
            lines.append(as_line(element))
            size += len(element)
            if len(lines) >= chunk_rows or size >= BLOCK_BYTES:
                yield chunk()
        if splitter.closed:
            break
    rest = splitter.finish()
    note = None
    if not splitter.closed:
        if rest is not None:
            lines.append(as_line(rest))  # a cut-off element: a malformed row, counted
        note = (
            f"{path} ends before its JSON array closes (truncated?), after "
            f"{row + len(lines):,} elements; those read are curated and counted"
        )
    if lines or note:
        yield chunk(note)


def _whole_json(path: Path, data: bytes, chunk_rows: int) -> Iterator[RawChunk]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # orjson refuses lone surrogates that json accepts; give it a second chance
            value = json.loads(data.decode("utf-8", "surrogatepass"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{path} is not valid JSON ({exc}); for one record per line use JSONL"
            ) from exc
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        raise InputError(
            f"{path} holds a JSON object, not an array of records"
            + (f"; its list field(s) {lists} may hold the records" if lists else "")
        )
    if not isinstance(value, list):
        raise InputError(f"{path} holds a JSON {type(value).__name__}, not an array of records")
    size = path.stat().st_size
    for start in range(0, len(value), chunk_rows):
        part = value[start : start + chunk_rows]
        done = (
            size if start + chunk_rows >= len(value) else size * (start + len(part)) // len(value)
        )
        yield RawChunk(str(path), start, records=part, bytes_done=done)


def read_csv(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
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
            path,
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


def read_parquet(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """A Parquet file, or every ``*.parquet`` below a folder, batch by batch."""
    for file in _parquet_files(path):
        try:
            pf = pq.ParquetFile(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read {file} as Parquet: {exc}") from exc
        row = 0
        size = file.stat().st_size
        groups = max(pf.num_row_groups, 1)
        for i in range(pf.num_row_groups):
            for batch in pf.iter_batches(batch_size=chunk_rows, row_groups=[i]):
                yield RawChunk(str(file), row, batch=batch, bytes_done=size * (i + 1) // groups)
                row += batch.num_rows


def read_hf_disk(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
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
    stream, raw = _open_binary(path)
    with raw:
        head = stream.read(4096).lstrip()
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
