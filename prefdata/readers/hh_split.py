"""HH-RLHF transcript splitting for whole Arrow columns at once.

The rule is ``layouts.split_hh``'s: the prompt is everything up to and including the
last ``\\n\\nAssistant:`` that both transcripts share; each response is the rest without
its single leading space. Done here without a Python loop: find the last marker of each
transcript (search the byte-reversed text), and where both transcripts have the same text
up to their last marker, that is the shared prompt. Rows where it differs (the
conversations diverge earlier, about 5 in 2,312 in HH's harmless test set) are left to
the per-row rule.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.readers.layouts import HH_ASSISTANT

_MARKER_REVERSED = HH_ASSISTANT[::-1]
_SPACE = ord(" ")


def _cut(texts: pa.StringArray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(head up to the last marker, tail after it minus one space, has-marker mask)."""
    found = pc.find_substring(pc.binary_reverse(texts.cast(pa.binary())), _MARKER_REVERSED)
    from_end = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[: len(texts) + 1].astype(np.int64)
    starts, ends = offsets[:-1], offsets[1:]
    has = from_end >= 0
    cut = np.where(has, ends - from_end, starts)
    data = (
        np.frombuffer(texts.buffers()[2], dtype=np.uint8) if len(texts) else np.zeros(0, np.uint8)
    )
    space = np.zeros(len(texts), dtype=bool)
    inside = has & (cut < ends)
    space[inside] = data[cut[inside]] == _SPACE
    tail = cut + space
    # Three strings per row over the same bytes: [start, cut) [cut, tail) [tail, end).
    pieces = np.empty(3 * len(texts) + 1, dtype=np.int64)
    pieces[0:-1:3], pieces[1::3], pieces[2::3] = starts, cut, tail
    pieces[-1] = ends[-1] if len(texts) else 0
    if pieces[-1] >= 2**31:  # pragma: no cover - a single chunk over 2 GiB of text
        raise OverflowError("chunk too large for 32-bit string offsets")
    split = pa.StringArray.from_buffers(
        3 * len(texts), pa.array(pieces.astype(np.int32)).buffers()[1], texts.buffers()[2]
    )
    heads = split.take(pa.array(np.arange(0, 3 * len(texts), 3)))
    tails = split.take(pa.array(np.arange(2, 3 * len(texts), 3)))
    return heads, tails, has


def split_hh_columns(
    chosen: pa.StringArray, rejected: pa.StringArray
) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    """(prompt, chosen response, rejected response, ok) for non-null string columns.

    Rows where ``ok`` is False need the per-row rule.
    """
    chosen, rejected = _contiguous(chosen), _contiguous(rejected)
    prompt_c, response_c, has_c = _cut(chosen)
    prompt_r, response_r, has_r = _cut(rejected)
    same = pc.fill_null(pc.equal(prompt_c, prompt_r), False).to_numpy(zero_copy_only=False)
    return prompt_c, response_c, response_r, has_c & has_r & np.asarray(same, dtype=bool)


def _contiguous(texts: pa.Array) -> pa.StringArray:
    if texts.type != pa.string():
        texts = texts.cast(pa.string())
    if texts.offset or texts.null_count:  # fresh buffers starting at zero, no nulls
        texts = pa.concat_arrays([pc.fill_null(texts, "")])
    return texts
