"""Message lists built column-wise, for the conversational fast path.

A chunk of conversational JSON lines that Arrow's reader parses cleanly is reshaped here
without a Python object per row: role mapping, a prepended system message and one-turn
responses are offset arithmetic and ``take``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.schema import MESSAGE, MESSAGES


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


def text_fields(
    column: pa.Array, first: str, second: str
) -> tuple[np.ndarray, pa.Array, pa.Array] | None:
    """The offsets and two text fields of a parsed ``[{first, second}, ...]`` column, or
    None when any row needs the row path (a null, a value that is not plain text, a
    missing key)."""
    kind = column.type
    if not (pa.types.is_list(kind) and pa.types.is_struct(kind.value_type)):
        return None
    fields = {f.name: f.type for f in kind.value_type}
    if not (is_text(fields.get(first, pa.null())) and is_text(fields.get(second, pa.null()))):
        return None
    flat = column.flatten()
    a, b = pc.struct_field(flat, first), pc.struct_field(flat, second)
    if column.null_count or a.null_count or b.null_count:
        return None
    return offsets_of(column), a, b


def message_lists(column: pa.Array) -> pa.ListArray | None:
    """A parsed ``[{role, content}, ...]`` column as MESSAGES, or None when any row
    needs the row path."""
    parts = text_fields(column, "role", "content")
    return None if parts is None else messages(*parts)
