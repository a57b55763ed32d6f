"""MinHash signatures of prompts over word shingles, a whole column at a time.

The numbers are datasketch's (``MinHash(num_perm, seed)``, its default ``affine32``
scheme): the same permutations and the same MurmurHash3 pre-mix, so a signature here
equals ``datasketch.MinHash(hashfunc=lambda h: h)`` fed the same shingle hashes (a test
holds us to that). What differs is the loop: datasketch hashes one set per call, while
this computes every row of a batch with a handful of numpy operations, and the LSH
banding is done on sorted arrays instead of an in-memory dict per band, so a million
prompts need tens of megabytes, not gigabytes.

Shingles are ``shingle_words`` consecutive lower-cased words (3 by default: one word
is too coarse, prompts are short). A prompt with fewer words is one shingle. Text
without spaces (Chinese, Japanese) is one "word" per whitespace run, so for it only
exact matches are found: a documented limit, not a silent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.errors import MissingExtraError, require

if TYPE_CHECKING:
    from prefdata.config import FilterConfig

# Rows per block of the (shingles x num_perm) matrix: bounds its size to a few MB.
_BLOCK_SHINGLES = 1 << 14
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: a set with no shingles


@dataclass(frozen=True)
class LshParams:
    """How prompts are compared: permutations, bands and the similarity threshold."""

    num_perm: int
    bands: int
    rows: int
    threshold: float
    shingle_words: int
    seed: int = 1


@cache
def lsh_params(threshold: float, num_perm: int, shingle_words: int) -> LshParams:
    """Bands x rows minimising false positives + false negatives around ``threshold``.

    datasketch's own choice (``MinHashLSH`` with equal weights), so the S-curve is the
    documented one: at 0.8 and 128 permutations, 9 bands of 13 rows.
    """
    lsh = require("datasketch.lsh", "dedup")
    bands, rows = lsh._optimal_param(threshold, num_perm, 0.5, 0.5)
    return LshParams(num_perm, int(bands), int(rows), threshold, shingle_words)


def lsh_for(config: FilterConfig) -> LshParams | None:
    """MinHash LSH settings when prompts are compared for near matches, else None."""
    if not config.near_duplicates_wanted():
        return None
    try:
        return lsh_params(
            config.near_duplicate_threshold, config.minhash_permutations, config.shingle_words
        )
    except MissingExtraError:
        # the statistic is on by default: without datasketch it is skipped (and the
        # report says so); an explicit drop cannot be honoured, so it fails
        if config.drop_near_duplicates:
            raise
        return None


@cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    datasketch = require("datasketch", "dedup")
    a, b = datasketch.MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, datasketch's pre-mix before the permutations."""
    h = h.astype(np.uint32, copy=True)
    with np.errstate(over="ignore"):
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


def shingle_hashes(texts: pa.Array, shingle_words: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of each row's word shingles, and each row's shingle count."""
    trimmed = pc.utf8_trim_whitespace(pc.utf8_lower(pc.fill_null(texts, "")))
    words = pc.utf8_split_whitespace(trimmed)
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    counts = pc.list_value_length(words).to_numpy(zero_copy_only=False).astype(np.int64)
    # "" splits into one empty word: a blank prompt has no shingles at all
    counts[pc.utf8_length(trimmed).to_numpy(zero_copy_only=False) == 0] = 0
    flat = words.flatten().to_numpy(zero_copy_only=False)
    # pandas' SipHash with a fixed key: the same word hashes the same in every process.
    # Imported here: pandas takes longer to import than a small filter run without
    # --near-duplicates takes to check its pairs.
    import pandas as pd

    word_hash = pd.util.hash_array(flat) if len(flat) else np.zeros(1, np.uint64)
    k = shingle_words
    # a row of n words has n - k + 1 shingles, or one (all its words) when n < k
    per_row = np.where(counts > 0, np.maximum(counts - k + 1, 1), 0)
    word_start = words.offsets.to_numpy()[:-1].astype(np.int64) - words.offsets[0].as_py()
    shingle_start = np.cumsum(per_row) - per_row
    row_end = np.repeat(word_start + counts, per_row)
    first = np.repeat(word_start - shingle_start, per_row) + np.arange(int(per_row.sum()))
    combined = np.zeros(len(first), np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(k):
            idx = first + offset
            part = word_hash[np.minimum(idx, len(word_hash) - 1)]
            combined = combined * np.uint64(0x100000001B3) + np.where(idx < row_end, part, 0)
    return (combined ^ (combined >> np.uint64(32))).astype(np.uint32), per_row


def signatures(texts: pa.Array, params: LshParams) -> np.ndarray:
    """(rows x num_perm) uint32 MinHash signatures; a row without words is all 0xFFFFFFFF."""
    hashes, per_row = shingle_hashes(texts, params.shingle_words)
    a, b = _permutations(params.num_perm, params.seed)
    out = np.full((len(per_row), params.num_perm), _EMPTY, np.uint32)
    mixed = fmix32(hashes)
    ends = np.cumsum(per_row)
    starts = ends - per_row
    row = 0
    while row < len(per_row):
        # a block of whole rows whose shingles fit the block size (at least one row)
        stop = int(np.searchsorted(ends, starts[row] + _BLOCK_SHINGLES, side="right"))
        stop = max(stop, row + 1)
        lo, hi = int(starts[row]), int(ends[stop - 1])
        if hi > lo:
            with np.errstate(over="ignore"):
                permuted = mixed[lo:hi, None] * a[None, :] + b[None, :]
            nonempty = np.flatnonzero(per_row[row:stop] > 0)
            offsets = (starts[row:stop][nonempty] - lo).astype(np.int64)
            out[row + nonempty] = np.minimum.reduceat(permuted, offsets, axis=0)
        row = stop
    return out


def band_keys(signature: np.ndarray, params: LshParams) -> np.ndarray:
    """(rows x bands) uint64: one hash per LSH band; equal keys = same bucket."""
    n = signature.shape[0]
    used = signature[:, : params.bands * params.rows].reshape(n, params.bands, params.rows)
    keys = np.zeros((n, params.bands), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(params.rows):
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + used[:, :, j].astype(np.uint64)
        # the band number is mixed in so that equal values in different bands never meet
        keys += np.arange(params.bands, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal signature slots, row by row: datasketch's ``MinHash.jaccard``."""
    return np.asarray((a == b).mean(axis=-1), dtype=np.float64)
