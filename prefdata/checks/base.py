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
    return pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


Check = Callable[[PairView, FilterConfig], Masks]
