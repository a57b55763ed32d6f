"""Per-row XXH3 hashes of Arrow string columns, read straight from the Arrow buffers.

No Python string is built per row: each row's bytes are a memoryview slice of the data
buffer, which xxhash reads in place, and the hex form is spelled out by numpy for the
whole column at once (building a million 16-character Python strings and an Arrow array
from them took longer than hashing).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

# a byte's two hex digits as one little-endian 16-bit word, so in memory they read in order
_HEX_PAIRS = np.array([int.from_bytes(f"{i:02x}".encode(), "little") for i in range(256)], "<u2")


def digests(data: memoryview, offsets: Sequence[int]) -> np.ndarray:
    """XXH3-64 of ``data[offsets[i]:offsets[i + 1]]`` for each row i, as uint64."""
    digest = xxhash.xxh3_64_intdigest
    return np.array([digest(data[a:b]) for a, b in itertools.pairwise(offsets)], np.uint64)


def as_hex(values: np.ndarray) -> pa.Array:
    """uint64 values as 16 lowercase hex digits each, most significant first (as
    ``xxh3_64_hexdigest`` spells them): each byte looks up its two digits at once."""
    spelled = _HEX_PAIRS[values.astype(">u8").view(np.uint8)]
    offsets = np.arange(0, 16 * (len(values) + 1), 16, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(spelled)]
    )


def hex_digests(texts: pa.Array) -> pa.Array:
    """XXH3-64 of each row's UTF-8 bytes as 16 hex characters (nulls hash as "")."""
    if texts.type != pa.string():
        texts = texts.cast(pa.string())
    if texts.offset or texts.null_count:  # buffers that start at row 0, no nulls
        texts = pa.concat_arrays([pc.fill_null(texts, "")])
    if not len(texts):
        return pa.array([], pa.string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[: len(texts) + 1].tolist()
    return as_hex(digests(memoryview(texts.buffers()[2] or b""), offsets))
