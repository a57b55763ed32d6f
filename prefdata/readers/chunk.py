"""What a source yields: chunks of records (``RawChunk``), and ``Malformed`` markers
for records that could not be parsed, which keep their text so nothing is lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa


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

    def row_array(self) -> pa.Array:
        """``row_numbers`` as an int64 Arrow array (made by numpy when consecutive)."""
        if self.rows is None and self.text is None:
            return pa.array(np.arange(self.start_row, self.start_row + len(self), dtype=np.int64))
        return pa.array(self.row_numbers(), pa.int64())

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


# text and bytes columns, and the bytes type each can be viewed as without a copy
_BYTES_VIEW = {
    pa.string(): pa.binary(),
    pa.binary(): pa.binary(),
    pa.large_string(): pa.large_binary(),
    pa.large_binary(): pa.large_binary(),
}


def is_text_like(column: pa.Array) -> bool:
    return column.type in _BYTES_VIEW


def cell_text(column: pa.Array, i: int) -> str | None:
    """Row ``i`` of a text or bytes column as text, invalid UTF-8 as backslash escapes."""
    value = column.slice(i, 1).view(_BYTES_VIEW[column.type])[0].as_py()
    return None if value is None else value.decode("utf-8", "backslashreplace")


def _row_or_malformed(batch: pa.RecordBatch, i: int) -> Any:
    row = batch.slice(i, 1)
    try:
        return row.to_pylist()[0]
    except UnicodeDecodeError as exc:
        texts = {
            name: cell_text(column, 0)
            for name, column in zip(row.schema.names, row.columns, strict=True)
            if is_text_like(column)
        }
        raw = orjson.dumps(texts).decode()
        return Malformed(raw, f"invalid UTF-8: {exc.reason}")


def parse_line(line: bytes) -> Any:
    """One JSON line, or ``Malformed`` keeping its text."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Malformed(line.decode("utf-8", "backslashreplace"), f"invalid JSON: {exc}")
