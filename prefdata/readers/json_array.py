"""Split a JSON array into its elements' bytes, block by block, without parsing it.

Loading a whole array costs about ten times the file in Python objects (a 500 MB array
peaked at 5 GB). Here each block is scanned with numpy: quotes not escaped by an odd run
of backslashes open and close strings; outside strings, brackets and braces change the
depth and a comma at depth 1 ends an element. Memory is bounded by the largest element.
Each element is then parsed on its own (as a JSON line), so one bad element (invalid
UTF-8, a lone surrogate, nesting deeper than the parser allows) is one dropped row.
"""

from __future__ import annotations

import numpy as np

_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPENS, _CLOSES = (ord("["), ord("{")), (ord("]"), ord("}"))


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

    def feed(self, block: bytes) -> list[bytes]:
        if self.closed or not block:
            return []
        b = np.frombuffer(block, np.uint8)
        n = len(b)
        index = np.arange(n)
        is_bs = b == _BACKSLASH
        last_other = np.maximum.accumulate(np.where(is_bs, -1, index))
        # a quote is escaped when an odd run of backslashes stands right before it
        quotes = np.flatnonzero(b == _QUOTE)
        before = quotes - 1
        clipped = np.maximum(before, 0)
        run = np.where(before >= 0, before - last_other[clipped], 0)
        from_start = (before < 0) | (last_other[clipped] == -1)
        run = run + np.where(from_start, self.backslashes, 0)
        real = quotes[run % 2 == 0]
        toggles = np.zeros(n, np.int64)
        toggles[real] = 1
        inside = (np.cumsum(toggles) + self.in_string) % 2 == 1
        outside = ~inside & (toggles == 0)
        delta = np.zeros(n, np.int64)
        delta[outside & np.isin(b, _OPENS)] = 1
        delta[outside & np.isin(b, _CLOSES)] = -1
        depth = self.depth + np.cumsum(delta)
        cuts: list[int] = []
        start = 0
        if not self.started:
            opened = np.flatnonzero(delta == 1)
            if not len(opened):
                return []  # only whitespace so far
            self.started = True
            start = int(opened[0]) + 1
        ends = np.flatnonzero(
            ((outside & (b == _COMMA)) & (depth == 1)) | ((delta == -1) & (depth <= 0))
        )
        cuts = [int(c) for c in ends if c >= start]
        out = []
        for cut in cuts:
            self._pieces.append(block[start:cut])
            element = b"".join(self._pieces)
            self._pieces = []
            if element.strip():
                out.append(element)
            start = cut + 1
            if depth[cut] <= 0:
                self.closed = True
                break
        if not self.closed:
            self._pieces.append(block[start:])
        self.in_string = bool(inside[-1]) if n else self.in_string
        self.depth = int(depth[-1])
        self.backslashes = (
            0
            if not is_bs[-1]
            else n - 1 - int(last_other[-1]) + (self.backslashes * (last_other[-1] == -1))
        )
        return out

    def finish(self) -> bytes | None:
        """The unfinished element of an array that never closed, if any."""
        rest = b"".join(self._pieces)
        self._pieces = []
        return rest if rest.strip() and not self.closed else None


def as_line(element: bytes) -> bytes:
    """An element on one line: raw line breaks can only be whitespace between tokens
    (JSON strings cannot hold them), so they become spaces."""
    return element.replace(b"\n", b" ").replace(b"\r", b" ")
