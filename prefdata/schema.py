"""The canonical preference-pair record, shared by every reader, check and writer.

A pair is one row with ``id``, ``prompt``, ``chosen`` and ``rejected``; every other
column of the input rides along untouched. Two shapes exist, as in TRL:

* **text**: the three fields are strings;
* **conversational**: each is a list of ``{"role", "content"}`` messages. ``prompt``
  holds the conversation so far and ``chosen``/``rejected`` the final assistant turn
  (TRL's explicit-prompt form).

The dropped set adds ``reasons`` (every reason code that applied), ``source_file``,
``source_row`` (0-based record index; for JSONL the line number minus one) and ``raw``
(the original record as JSON text, for rows that could not be parsed into the schema).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

ID, PROMPT, CHOSEN, REJECTED = "id", "prompt", "chosen", "rejected"
CANONICAL = (ID, PROMPT, CHOSEN, REJECTED)
REASONS, SOURCE_FILE, SOURCE_ROW, RAW = "reasons", "source_file", "source_row", "raw"
DETAIL = "detail"  # dropped rows that could not be read: which field, what is wrong
PROVENANCE = (REASONS, SOURCE_FILE, SOURCE_ROW, RAW, DETAIL)

Shape = Literal["text", "conversational"]

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


def field_type(shape: Shape) -> pa.DataType:
    """Arrow type of prompt/chosen/rejected for a shape."""
    return pa.string() if shape == "text" else MESSAGES


def canonical_fields(shape: Shape) -> list[pa.Field]:
    t = field_type(shape)
    return [
        pa.field(ID, pa.string()),
        pa.field(PROMPT, t),
        pa.field(CHOSEN, t),
        pa.field(REJECTED, t),
    ]


def provenance_fields() -> list[pa.Field]:
    return [
        pa.field(REASONS, pa.list_(pa.string())),
        pa.field(SOURCE_FILE, pa.string()),
        pa.field(SOURCE_ROW, pa.int64()),
        pa.field(RAW, pa.string()),
        pa.field(DETAIL, pa.string()),
    ]


def derive_id(prompt: Any, chosen: Any, rejected: Any) -> str:
    """A stable id from content: the same pair always gets the same id.

    >>> derive_id("p", "a", "b") == derive_id("p", "a", "b")
    True
    """
    if isinstance(prompt, str) and isinstance(chosen, str) and isinstance(rejected, str):
        # the unit separator cannot be confused with text, and joining is far cheaper
        # than JSON for the common text case
        blob = "\x1f".join((prompt, chosen, rejected))
    else:
        blob = json.dumps([prompt, chosen, rejected], ensure_ascii=False, separators=(",", ":"))
    # XXH3 (64-bit) is stable across versions and ~20x faster than SHA-256; ids name
    # pairs, they do not protect anything
    return xxhash.xxh3_64_hexdigest(blob.encode("utf-8", "surrogatepass"))


def final_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The text the checks look at: the string itself, or the last message's content.

    Works on whole columns at once; an empty message list gives ``""``.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.fill_null(column, "")
    lists = column.cast(MESSAGES) if column.type != MESSAGES else column
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    contents = pc.struct_field(lists.values, "content")
    # offsets of the last element of each non-empty list; empty lists point at a null
    starts = lists.offsets.to_numpy()[:-1]
    last = starts + lengths - 1
    taken = contents.take(pa.array(np.where(lengths > 0, last, 0))) if len(contents) else None
    if taken is None:
        return pa.array([""] * len(lists), pa.string())
    mask = pa.array(lengths == 0)
    return pc.fill_null(pc.if_else(mask, pa.scalar(None, pa.string()), taken), "")
