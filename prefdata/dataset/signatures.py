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
from prefdata.dataset.minhash import LshParams, band_keys, signatures
from prefdata.hashing import int_digests
from prefdata.schema import CHOSEN, PROMPT, REJECTED, SOURCE_ROW, final_text


def _normalize(texts: pa.Array, unicode: bool) -> pa.Array:
    if unicode:
        words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(texts))
    else:
        words = pc.ascii_split_whitespace(pc.ascii_trim_whitespace(texts))
    return pc.binary_join(words, " ")


def _needs_unicode(texts: pa.StringArray) -> np.ndarray:
    """Rows the ASCII kernels would normalise differently from the Unicode ones.

    Those hold whitespace that only Unicode's kernels know: U+001C-U+001F, U+0085,
    U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Found
    by scanning the UTF-8 bytes with numpy (a regex took 1.2 us a row on HH-RLHF, where
    half the rows have a curly quote or another non-ASCII character).
    """
    odd = np.zeros(len(texts), bool)
    data = texts.buffers()[2]
    if data is None or not len(texts):
        return odd
    offsets = np.frombuffer(texts.buffers()[1], np.int32)[: len(texts) + 1]
    raw = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
    at = np.flatnonzero(((raw & 0xFC) == 0x1C) | ((raw >= 0xC2) & (raw <= 0xE3)))
    if not len(at):
        return odd
    padded = np.concatenate([raw, np.zeros(2, np.uint8)])
    b0, b1, b2 = padded[at], padded[at + 1], padded[at + 2]
    space = (
        ((b0 & 0xFC) == 0x1C)  # U+001C-U+001F
        | ((b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0)))  # U+0085, U+00A0
        | ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))  # U+1680
        | ((b0 == 0xE2) & (b1 == 0x80) & ((b2 <= 0x8A) | np.isin(b2, (0xA8, 0xA9, 0xAF))))
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))  # U+205F
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))  # U+3000
    )
    odd[np.searchsorted(offsets, at[space] + offsets[0], side="right") - 1] = True
    return odd


# Text that is already normal for the ASCII kernels has none of these.
_ASCII_IRREGULAR = "[\t\n\v\f\r]|  |^ | $"


def normalized_text(texts: pa.Array) -> pa.Array:
    """Whitespace runs as one space, ends trimmed: 'a  b\\n' and 'a b' are the same text.

    Split on whitespace and joined again (several times faster than a regex replace),
    and only where needed: a row with single spaces between words and no other
    whitespace is already normal, and is left as it is. Whitespace is Unicode's; rows
    with none outside ASCII (the usual case) take the ASCII kernels, which give the
    same result in about half the time.
    """
    texts = pc.fill_null(texts, "")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if texts.offset:
        texts = pa.concat_arrays([texts])
    unicode = _needs_unicode(texts)
    irregular = np.asarray(
        pc.match_substring_regex(texts, _ASCII_IRREGULAR).to_numpy(zero_copy_only=False), bool
    )
    kinds = np.where(unicode, 2, np.where(irregular, 1, 0))  # 0: already normal
    present = [k for k in (0, 1, 2) if (kinds == k).any()]
    if len(present) <= 1:
        kind = present[0] if present else 0
        return texts if kind == 0 else _normalize(texts, unicode=kind == 2)
    rows = [np.flatnonzero(kinds == k) for k in present]
    parts = []
    for kind, picked in zip(present, rows, strict=True):
        some = texts.take(pa.array(picked))
        parts.append(some if kind == 0 else _normalize(some, unicode=kind == 2))
    back = np.empty(len(texts), np.int64)
    back[np.concatenate(rows)] = np.arange(len(texts))
    return pa.concat_arrays(parts).take(pa.array(back))


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
    prompt = text_hashes(batch.column(PROMPT))
    # a text prompt is its own last turn: one hash serves both
    conversation = not pa.types.is_string(batch.schema.field(PROMPT).type)
    sig = Signatures(
        source_row=batch.column(SOURCE_ROW).to_numpy(zero_copy_only=False).astype(np.int64),
        prompt=prompt,
        prompt_last=text_hashes(prompt_text) if conversation else prompt,
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
