"""Per-row XXH3 hashes of Arrow string columns, read straight from the Arrow buffers.

No Python string is built per row: each row's bytes are a memoryview slice of the data
buffer, which xxhash reads in place.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash


def hex_digests(texts: pa.Array) -> pa.Array:
    """XXH3-64 of each row's UTF-8 bytes as 16 hex characters (nulls hash as "")."""
    if texts.type != pa.string():
        texts = texts.cast(pa.string())
    if texts.offset or texts.null_count:  # buffers that start at row 0, no nulls
        texts = pa.concat_arrays([pc.fill_null(texts, "")])
    if not len(texts):
        return pa.array([], pa.string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[: len(texts) + 1].tolist()
    data = memoryview(texts.buffers()[2] or b"")
    digest = xxhash.xxh3_64_hexdigest
    return pa.array([digest(data[a:b]) for a, b in itertools.pairwise(offsets)], pa.string())
