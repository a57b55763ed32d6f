"""Content-derived ids of message-list pairs without a Python object per row.

``schema.derive_id`` hashes ``json.dumps([prompt, chosen, rejected], ensure_ascii=False,
separators=(",", ":"))``. Here that JSON text is built for a whole chunk at once: numpy
escapes every role and content in the chunk's data buffers (a backslash before ``"``,
``\\`` and the five control bytes JSON writes as ``\\b \\t \\n \\f \\r``), and Arrow's
string joins lay out the brackets, keys and commas. The bytes are the ones ``json.dumps``
writes (tested against ``derive_id``).

Rows this cannot write byte for byte, a null list, role or content, or another control
byte (JSON writes those as ``\\u00XX``), are rare: the caller then takes the per-row way
for the chunk.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.hashing import hex_digests

_MAX_BYTES = 2**31  # Arrow's string type: int32 offsets

# the letter after the backslash, per escaped byte (0: not escaped this way)
_ESCAPE = np.zeros(256, np.uint8)
for _byte, _letter in {8: "b", 9: "t", 10: "n", 12: "f", 13: "r", 34: '"', 92: "\\"}.items():
    _ESCAPE[_byte] = ord(_letter)


def _escaped(texts: pa.Array) -> pa.Array | None:
    """Each row's JSON string body (no quotes), or None when one needs ``\\u00XX``."""
    texts = pa.concat_arrays([texts.cast(pa.string())])  # buffers that start at row 0
    _, offset_buffer, data = texts.buffers()
    offsets = np.frombuffer(offset_buffer, np.int32)[: len(texts) + 1]
    raw = np.frombuffer(data or b"", np.uint8)[: offsets[-1]]
    special = np.flatnonzero((raw < 32) | (raw == 34) | (raw == 92))
    if not len(special):
        return texts
    letters = _ESCAPE[raw[special]]
    if not letters.all() or len(raw) + len(special) >= 2**31:
        return None
    out = np.insert(raw, special, ord("\\"))
    out[special + np.arange(1, len(special) + 1)] = letters
    shifted = offsets + np.searchsorted(special, offsets).astype(np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(texts), [None, pa.py_buffer(shifted), pa.py_buffer(out)]
    )


def _list_json(lists: pa.ListArray) -> pa.Array | None:
    """``[{"role":"..","content":".."},...]`` per row, or None (see the module's note)."""
    if lists.null_count:
        return None
    flat = lists.flatten()
    roles, contents = pc.struct_field(flat, "role"), pc.struct_field(flat, "content")
    if roles.null_count or contents.null_count:
        return None
    role, content = _escaped(roles), _escaped(contents)
    if role is None or content is None:
        return None
    messages = pc.binary_join_element_wise('{"role":"', role, '","content":"', content, '"}', "")
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lists) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), messages), ",")


def message_list_ids(prompt: pa.Array, chosen: pa.Array, rejected: pa.Array) -> pa.Array | None:
    """``schema.derive_id`` of each row of three MESSAGES columns, or None when a row
    needs the per-row way."""
    # escaping at most doubles the text, and the joins add keys and brackets per message:
    # past int32 string offsets (2 GiB per chunk, never for JSON chunks), the per-row way
    messages = sum(len(c.flatten()) for c in (prompt, chosen, rejected))
    if 2 * sum(c.nbytes for c in (prompt, chosen, rejected)) + 32 * messages >= _MAX_BYTES:
        return None
    parts = [_list_json(column) for column in (prompt, chosen, rejected)]
    if any(part is None for part in parts):
        return None
    blobs = pc.binary_join_element_wise("[[", parts[0], "],[", parts[1], "],[", parts[2], "]]", "")
    return hex_digests(blobs)
