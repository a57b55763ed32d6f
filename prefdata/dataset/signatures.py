"""Per-row signatures for the dataset-level checks: hashes and lengths, never texts.

A signature row is about 40 bytes plus 8 per LSH band, so the whole-dataset decisions
of ``prefdata.dataset.decisions`` fit in memory for tens of millions of pairs; the
MinHash signatures themselves (4 bytes per permutation) go to a file on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from prefdata.checks.base import PairView
from prefdata.dataset.minhash import LshParams, band_keys, signatures
from prefdata.dataset.spaces import normalized_hashes, repeated_hashes
from prefdata.schema import CHOSEN, PROMPT, REJECTED, SOURCE_ROW

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_EMPTY_TEXT = np.uint64(xxhash.xxh3_64_intdigest(b""))  # what "" normalises and hashes to


def _mixed(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, so that sums of hashes keep no visible structure."""
    x = x ^ (x >> np.uint64(33))
    x *= _M1
    x ^= x >> np.uint64(33)
    x *= _M2
    return x ^ (x >> np.uint64(33))


def text_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash per row of whitespace-normalised text, or of a whole message list.

    Texts that differ only in whitespace runs and trimmed ends hash alike
    (``prefdata.dataset.spaces``). A message list hashes each message with its position
    and role, and adds them up, so the same turns in another order or with another
    speaker give another hash.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return normalized_hashes(column)
    return conversation_hashes(column)[0]


def conversation_hashes(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``text_hashes`` of a message-list column, and the normalised hash of each row's
    last message's content (``final_text``'s; an empty list's is that of ""), taken
    from the same per-message hashes rather than hashing the last turns again."""
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    flat = column.flatten()
    ends = np.cumsum(lengths)
    position = np.arange(len(flat)) - np.repeat(ends - lengths, lengths)
    contents = normalized_hashes(pc.struct_field(flat, "content"))
    per_message = _mixed(
        contents * _M1
        + repeated_hashes(pc.struct_field(flat, "role")) * _M2
        + position.astype(np.uint64)
    )
    row = np.repeat(np.arange(len(lengths)), lengths)
    out = np.zeros(len(lengths), np.uint64)
    np.add.at(out, row, per_message)  # wraps modulo 2**64, which a hash may
    # an empty list must not equal a missing one, nor 0 collide with a real sum
    out ^= lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    last = np.full(len(lengths), _EMPTY_TEXT, np.uint64)
    filled = lengths > 0
    last[filled] = contents[ends[filled] - 1]
    return out, last


@dataclass
class Signatures:
    """One chunk's compact rows: ``source_row`` says which input row each one is."""

    source_row: np.ndarray  # int64
    prompt: np.ndarray  # uint64 hash of the normalised prompt (whole conversation)
    prompt_last: np.ndarray  # uint64 hash of the prompt's last turn, matched to eval sets
    chosen: np.ndarray  # uint64
    rejected: np.ndarray  # uint64
    chosen_chars: np.ndarray  # int64, final response
    rejected_chars: np.ndarray  # int64
    minhash: np.ndarray | None = None  # (rows x num_perm) uint32, of the prompt's last turn
    bands: np.ndarray | None = None  # (rows x bands) uint64
    # prompt has no words (no shingles): kept apart so that deciding never pages in the
    # whole MinHash file just to look at its first column
    blank: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.source_row)


def batch_signatures(
    batch: pa.RecordBatch, lsh: LshParams | None, view: PairView | None = None
) -> Signatures:
    """Signatures of a canonical batch; MinHash only when ``lsh`` is given.

    ``view``: the checks' view of the same batch, whose response lengths and final
    texts are then reused rather than computed a second time.
    """
    view = view if view is not None and view.batch is batch else PairView(batch)
    prompt_text = view.prompt
    column = batch.column(PROMPT)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        prompt = prompt_last = normalized_hashes(column)  # a text is its own last turn
    else:
        prompt, prompt_last = conversation_hashes(column)
    sig = Signatures(
        source_row=batch.column(SOURCE_ROW).to_numpy(zero_copy_only=False).astype(np.int64),
        prompt=prompt,
        prompt_last=prompt_last,
        chosen=text_hashes(batch.column(CHOSEN)),
        rejected=text_hashes(batch.column(REJECTED)),
        chosen_chars=view.chosen_chars,
        rejected_chars=view.rejected_chars,
    )
    if lsh is not None:
        sig.minhash = signatures(prompt_text, lsh)
        sig.bands = band_keys(sig.minhash, lsh)
        sig.blank = sig.minhash[:, 0] == np.uint32(0xFFFFFFFF)
    return sig
