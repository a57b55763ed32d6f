"""Message lists built and hashed column-wise, for the conversational fast path.

A chunk of conversational JSON lines that Arrow's reader parses cleanly is reshaped here
without a Python object per row: role mapping, a prepended system message and one-turn
responses are offset arithmetic and ``take``; content ids are the same bytes
``schema.derive_id`` hashes (its ``json.dumps`` text), assembled with string kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.hashing import hex_digests
from prefdata.schema import MESSAGE, MESSAGES

# json.dumps escapes these (ensure_ascii=False); backslash first, so later escapes stay
_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
# other control characters json.dumps writes as \u00XX: rows holding one take the row path
_RARE_CONTROL = "[\\x00-\\x07\\x0b\\x0e-\\x1f]"


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def offsets_of(lists: pa.ListArray) -> np.ndarray:
    """Offsets (n + 1) into ``lists.values`` that start at 0, whatever the array's slice."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    out = np.zeros(len(lists) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def messages(offsets: np.ndarray, roles: pa.Array, contents: pa.Array) -> pa.ListArray:
    """A MESSAGES list column from per-message roles and contents and list offsets."""
    structs = pa.StructArray.from_arrays(
        [roles.cast(pa.string()), contents.cast(pa.string())], fields=list(MESSAGE)
    )
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), structs, type=MESSAGES)


def one_turn(role: str, contents: pa.Array) -> pa.ListArray:
    """Each row as a one-message list ``[{role, content}]``."""
    n = len(contents)
    return messages(np.arange(n + 1), pa.array([role] * n, pa.string()), contents)


def prepend(
    offsets: np.ndarray, roles: pa.Array, contents: pa.Array, first: pa.Array, has: np.ndarray
) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Put a ``first`` message (role ``system``) before the lists of the rows in ``has``."""
    n = len(offsets) - 1
    lengths = np.diff(offsets) + has
    new_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    # each new position takes either an old message or row i's first message (appended
    # after the old values, at index total + i)
    total = int(offsets[-1])
    source = np.empty(int(new_offsets[-1]), np.int64)
    rows_of_old = np.repeat(np.arange(n), np.diff(offsets))
    shift = np.cumsum(has)  # messages added up to and including each row
    source_positions = np.arange(total) + shift[rows_of_old]
    source[source_positions] = np.arange(total)
    firsts = new_offsets[:-1][has.astype(bool)]
    source[firsts] = total + np.flatnonzero(has)
    take = pa.array(source)
    all_roles = pa.concat_arrays([roles.cast(pa.string()), pa.array(["system"] * n, pa.string())])
    all_contents = pa.concat_arrays([contents.cast(pa.string()), first.cast(pa.string())])
    return new_offsets, all_roles.take(take), all_contents.take(take)


# one bit per byte json.dumps escapes, and a last one for the rare control characters
_ESCAPE_BITS = {ord(old): 1 << i for i, (old, _) in enumerate(_ESCAPES)}
_RARE_BIT = 1 << len(_ESCAPES)
_BYTE_FLAGS = np.zeros(256, np.uint8)
for _byte in range(32):
    _BYTE_FLAGS[_byte] = _RARE_BIT
for _byte, _bit in _ESCAPE_BITS.items():
    _BYTE_FLAGS[_byte] = _bit


def _flags(texts: pa.Array) -> int:
    """OR of the flag bits of every byte in the array's data buffer (for a slice, of a
    superset of its bytes): which escapes a pass is needed for."""
    buffers = texts.buffers()
    data = buffers[2] if len(buffers) > 2 else None
    if data is None or data.size == 0:
        return 0
    raw = np.frombuffer(data, np.uint8)
    # quotes and backslashes are common: always escaped; control bytes are looked up
    # only among the (few) bytes below 32, found with one vectorised compare
    flags = _ESCAPE_BITS[ord("\\")] | _ESCAPE_BITS[ord('"')]
    controls = raw[raw < 32]
    if len(controls):
        flags |= int(np.bitwise_or.reduce(_BYTE_FLAGS[np.unique(controls)]))
    return flags


def _json_string(texts: pa.Array, flags: int) -> pa.Array:
    for i, (old, new) in enumerate(_ESCAPES):
        if flags & (1 << i):  # a pass over every byte only for escapes that occur
            texts = pc.replace_substring(texts, old, new)
    return pc.binary_join_element_wise('"', texts, '"', "")


def _json_messages(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """Each row's list as json.dumps writes it, and the rows it could not write so."""
    values = lists.values if lists.offset == 0 else lists.flatten()
    role, content = pc.struct_field(values, "role"), pc.struct_field(values, "content")
    role_flags, content_flags = _flags(role), _flags(content)
    rare = _rare_rows(lists, role, content, (role_flags | content_flags) & _RARE_BIT)
    roles = _json_string(role, role_flags)
    contents = _json_string(content, content_flags)
    each = pc.binary_join_element_wise('{"role":', roles, ',"content":', contents, "}", "")
    joined = pc.binary_join(
        pa.ListArray.from_arrays(pa.array(offsets_of(lists).astype(np.int32)), each), ","
    )
    return pc.binary_join_element_wise("[", joined, "]", ""), rare


def _rare_rows(
    lists: pa.ListArray, role: pa.Array, content: pa.Array, rare_bytes: int
) -> np.ndarray:
    """Rows the string kernels cannot write as json.dumps does: a null list, role or
    content (JSON ``null``), or a control character json.dumps writes as ``\\u00XX``."""
    null_lists = np.asarray(pc.is_null(lists).to_numpy(zero_copy_only=False), dtype=bool)
    if not rare_bytes and not role.null_count and not content.null_count:
        return null_lists  # the usual case: no regex pass is paid
    rare = pc.fill_null(
        pc.or_(
            pc.match_substring_regex(content, _RARE_CONTROL),
            pc.match_substring_regex(role, _RARE_CONTROL),
        ),
        True,
    ).to_numpy(zero_copy_only=False)
    offsets = offsets_of(lists)
    seen = np.zeros(len(rare) + 1, np.int64)
    np.cumsum(rare, out=seen[1:])
    return (seen[offsets[1:]] - seen[offsets[:-1]] > 0) | null_lists


def derive_message_ids(
    prompt: pa.ListArray, chosen: pa.ListArray, rejected: pa.ListArray
) -> pa.Array:
    """``schema.derive_id`` of each row of three MESSAGES columns, column-wise.

    Rows holding a null or a rare control character are left null for the caller to
    derive one by one.
    """
    (p, p_rare), (c, c_rare), (r, r_rare) = map(_json_messages, (prompt, chosen, rejected))
    ids = hex_digests(pc.binary_join_element_wise("[", p, ",", c, ",", r, "]", ""))
    rare = p_rare | c_rare | r_rare
    if rare.any():
        ids = pc.if_else(pa.array(rare), pa.scalar(None, pa.string()), ids)
    return ids
