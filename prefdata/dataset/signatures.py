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

from prefdata.checks.base import _lengths
from prefdata.config import FilterConfig
from prefdata.dataset.minhash import LshParams, band_keys, signatures
from prefdata.hashing import int_digests
from prefdata.readers import Layout, normalize_chunk
from prefdata.readers.normalize import Warnings
from prefdata.readers.sources import RawChunk
from prefdata.schema import CHOSEN, PROMPT, REJECTED, SOURCE_ROW, final_text


def normalized_text(texts: pa.Array) -> pa.Array:
    """Whitespace runs as one space, ends trimmed: 'a  b\\n' and 'a b' are the same text.

    Split on whitespace and joined again: several times faster than a regex replace.
    """
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.fill_null(texts, "")))
    return pc.binary_join(words, " ")


def text_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash per row of normalised text, or of a whole message list.

    A message list hashes each message with its position and role, and adds them up, so
    the same turns in another order or with another speaker give another hash.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return int_digests(normalized_text(column))
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    flat = column.flatten()
    position = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    parts = pc.binary_join_element_wise(
        pa.array(position.astype(str)),
        pc.fill_null(pc.struct_field(flat, "role"), ""),
        normalized_text(pc.struct_field(flat, "content")),
        "\x1e",
    )
    per_message = int_digests(parts)
    row = np.repeat(np.arange(len(lengths)), lengths)
    out = np.zeros(len(lengths), np.uint64)
    np.add.at(out, row, per_message)  # wraps modulo 2**64, which a hash may
    # an empty list must not equal a missing one, nor 0 collide with a real sum
    out ^= lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return out


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


def batch_signatures(batch: pa.RecordBatch, lsh: LshParams | None) -> Signatures:
    """Signatures of a canonical batch; MinHash only when ``lsh`` is given."""
    prompt_text = final_text(batch.column(PROMPT))
    sig = Signatures(
        source_row=batch.column(SOURCE_ROW).to_numpy(zero_copy_only=False).astype(np.int64),
        prompt=text_hashes(batch.column(PROMPT)),
        prompt_last=text_hashes(prompt_text),
        chosen=text_hashes(batch.column(CHOSEN)),
        rejected=text_hashes(batch.column(REJECTED)),
        chosen_chars=_lengths(final_text(batch.column(CHOSEN))),
        rejected_chars=_lengths(final_text(batch.column(REJECTED))),
    )
    if lsh is not None:
        sig.minhash = signatures(prompt_text, lsh)
        sig.bands = band_keys(sig.minhash, lsh)
        sig.blank = sig.minhash[:, 0] == np.uint32(0xFFFFFFFF)
    return sig


def chunk_signatures(chunk: RawChunk, layout: Layout | None, config: FilterConfig) -> Signatures:
    """Signatures of one raw chunk's readable rows (pure: runs in worker processes)."""
    good = normalize_chunk(chunk, layout, Warnings()).good
    return batch_signatures(good, config.lsh())
