"""What a check sees and answers.

A check is a function ``(view, config) -> {reason_code: mask}``: for one batch of pairs
it returns, per reason code it can give, a boolean numpy mask of the rows it applies to.
Checks never count, time or write; the pipeline does (see ``prefdata.pipeline``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.config import FilterConfig
from prefdata.schema import CHOSEN, PROMPT, REJECTED, final_text

Masks = dict[str, np.ndarray]


@dataclass
class PairView:
    """A batch of canonical pairs with the derived columns checks share, computed once.

    Every check looks at the responses (for conversational data, the final assistant
    turn's text), never at whole transcripts.
    """

    batch: pa.RecordBatch
    # Per-row figures checks publish for the report (e.g. "similarity"): float arrays.
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    # Costly derived data several checks share (e.g. token ids), keyed by what made it.
    shared: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.batch.num_rows

    @cached_property
    def chosen(self) -> pa.Array:
        return final_text(self.batch.column(CHOSEN))

    @cached_property
    def rejected(self) -> pa.Array:
        return final_text(self.batch.column(REJECTED))

    @cached_property
    def prompt(self) -> pa.Array:
        """The prompt's text (for conversations: the last message of the prompt)."""
        return final_text(self.batch.column(PROMPT))

    @cached_property
    def chosen_chars(self) -> np.ndarray:
        return _lengths(self.chosen)

    @cached_property
    def rejected_chars(self) -> np.ndarray:
        return _lengths(self.rejected)

    @cached_property
    def identical(self) -> np.ndarray:
        return _mask(pc.equal(self.chosen, self.rejected))


def _lengths(texts: pa.Array) -> np.ndarray:
    """Characters (code points) per row. Text that is all ASCII, as most is, has as many
    characters as bytes: its offsets say it, after one reduction over its bytes
    (Arrow's utf8_length walks every byte, a tenth of the checks' time on generated
    pairs)."""
    if texts.type == pa.string() and not texts.null_count and len(texts):
        _, offset_buffer, data = texts.buffers()
        offsets = np.frombuffer(offset_buffer, np.int32)[texts.offset :][: len(texts) + 1]
        raw = np.frombuffer(data or b"", np.uint8)[offsets[0] : offsets[-1]]
        if not len(raw) or raw.max() < 0x80:
            return np.diff(offsets).astype(np.int64)
    return pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)


def blank(texts: pa.Array) -> np.ndarray:
    """Rows that are empty or only whitespace (Unicode's, as ``utf8_trim_whitespace``
    trims it), without building the trimmed text."""
    empty = pc.equal(pc.binary_length(texts), 0)
    return _mask(pc.or_(empty, pc.utf8_is_space(texts)))


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


Check = Callable[[PairView, FilterConfig], Masks]
