"""Split a JSON array into its elements' bytes, block by block, without parsing it.

Loading a whole array costs about ten times the file in Python objects (a 500 MB array
peaked at 5 GB). Here each block is scanned with numpy: quotes not escaped by an odd run
of backslashes open and close strings; outside strings, brackets and braces change the
depth and a comma at depth 1 ends an element. Memory is bounded by the largest element.
Each element is then parsed on its own (as a JSON line), so one bad element (invalid
UTF-8, a lone surrogate, nesting deeper than the parser allows) is one dropped row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson

from prefdata.errors import InputError
from prefdata.readers.chunk import RawChunk
from prefdata.readers.compressed import BUFFER_BYTES, blocks, open_binary
from prefdata.readers.digest import InputDigest

_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPENS, _CLOSES = (ord("["), ord("{")), (ord("]"), ord("}"))
# the bytes that matter to the scan; everything else is skipped in one vectorised pass
_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[[_QUOTE, _BACKSLASH, _COMMA, *_OPENS, *_CLOSES]] = True
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[list(_OPENS)], _DELTA[list(_CLOSES)] = 1, -1


class ArraySplitter:
    """Feed blocks of a JSON array's bytes; get back its complete elements.

    >>> s = ArraySplitter()
    >>> s.feed(b'[{"a": "x,]"}, {"b": [1, 2')
    [b'{"a": "x,]"}']
    >>> s.feed(b"]}]"), s.finish(), s.closed
    ([b' {"b": [1, 2]}'], None, True)
    """

    def __init__(self) -> None:
        self.in_string = False
        self.backslashes = 0  # backslashes ending the previous block
        self.depth = 0
        self.started = False
        self.closed = False
        self._pieces: list[bytes] = []

    def _real_quotes(self, b: np.ndarray, quotes: np.ndarray) -> np.ndarray:
        """The quotes not escaped by an odd run of backslashes right before them."""
        if not len(quotes):
            return quotes
        before = quotes - 1
        escaped_maybe = np.zeros(len(quotes), dtype=bool)
        inside = before >= 0
        escaped_maybe[inside] = b[before[inside]] == _BACKSLASH
        escaped_maybe[~inside] = self.backslashes > 0
        keep = np.ones(len(quotes), dtype=bool)
        for i in np.flatnonzero(escaped_maybe).tolist():  # runs of backslashes are rare
            at, run = int(quotes[i]) - 1, 0
            while at >= 0 and b[at] == _BACKSLASH:
                run, at = run + 1, at - 1
            if at < 0:
                run += self.backslashes
            keep[i] = run % 2 == 0
        return quotes[keep]

    def feed(self, block: bytes) -> list[bytes]:
        if self.closed or not block:
            return []
        b = np.frombuffer(block, np.uint8)
        special = np.flatnonzero(_SPECIAL[b])
        kinds = b[special]
        quotes = self._real_quotes(b, special[kinds == _QUOTE])
        # structural bytes: outside strings, i.e. after an even number of real quotes
        structural = special[(kinds != _QUOTE) & (kinds != _BACKSLASH)]
        before = np.searchsorted(quotes, structural) + self.in_string
        outside = structural[before % 2 == 0]
        delta = _DELTA[b[outside]]
        depth = self.depth + np.cumsum(delta)
        start = 0
        if not self.started:
            opened = outside[delta == 1]
            if not len(opened):
                self._carry(b, quotes, depth)
                return []  # only whitespace so far
            self.started = True
            start = int(opened[0]) + 1
        is_cut = ((b[outside] == _COMMA) & (depth == 1)) | ((delta == -1) & (depth <= 0))
        out = []
        for cut, level in zip(outside[is_cut].tolist(), depth[is_cut].tolist(), strict=True):
            if cut < start:
                continue
            self._pieces.append(block[start:cut])
            element = b"".join(self._pieces)
            self._pieces = []
            if element.strip():
                out.append(element)
            start = cut + 1
            if level <= 0:
                self.closed = True
                break
        if not self.closed:
            self._pieces.append(block[start:])
        self._carry(b, quotes, depth)
        return out

    def _carry(self, b: np.ndarray, quotes: np.ndarray, depth: np.ndarray) -> None:
        """State the next block starts from."""
        self.in_string = bool((len(quotes) + self.in_string) % 2)
        if len(depth):
            self.depth = int(depth[-1])
        run = 0
        while run < len(b) and b[len(b) - 1 - run] == _BACKSLASH:
            run += 1
        self.backslashes = run + (self.backslashes if run == len(b) else 0)

    def finish(self) -> bytes | None:
        """The unfinished element of an array that never closed, if any."""
        rest = b"".join(self._pieces)
        self._pieces = []
        return rest if rest.strip() and not self.closed else None


def as_line(element: bytes) -> bytes:
    """An element on one line. A raw line break is whitespace between tokens or, inside a
    string, invalid JSON; a tab is the same to the parser in both places, so the element
    parses exactly when it did (a space would turn a bad string into good, altered text)."""
    return element.replace(b"\n", b"\t").replace(b"\r", b"\t")


def read_json_array(
    path: Path, chunk_rows: int, digest: InputDigest | None = None
) -> Iterator[RawChunk]:
    """A JSON array of records, streamed element by element (memory bounded by the
    largest element); a file that is not an array gets a message saying what it holds.
    """
    stream, raw = open_binary(path, digest)
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

    for block in blocks(stream, path, BUFFER_BYTES):
        if block is None:
            break
        for element in splitter.feed(block):
            lines.append(as_line(element))
            size += len(element)
            if len(lines) >= chunk_rows or size >= BUFFER_BYTES:
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
