"""Whole-dataset decisions from per-row signatures: which rows each dataset reason drops.

Rows are numbered in read order (the order of the inputs, then of their rows), so
"the first occurrence is kept" means the first one read. Everything here works on
numpy arrays of hashes: sorting and searching, never on texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefdata import reasons
from prefdata.config import FilterConfig
from prefdata.dataset.minhash import LshParams, estimated_jaccard, lsh_for
from prefdata.dataset.seen import SeenKeys

# Candidate pairs verified per block when reading MinHash rows back from disk.
_VERIFY_BLOCK = 1 << 16
_MIX = np.uint64(0x9E3779B97F4A7C15)


def combine(*hashes: np.ndarray) -> np.ndarray:
    """An order-sensitive hash of several hash columns (a, b) != (b, a)."""
    out = np.zeros(len(hashes[0]), np.uint64)
    with np.errstate(over="ignore"):
        for h in hashes:
            out = (out ^ h) * _MIX + np.uint64(0x632BE59BD9B4E019)
            out ^= out >> np.uint64(29)
    return out


def member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)``, by sorting both: numpy 2.4's own isin (and unique
    without ``return_index``) takes a hash path that measured 4x (40x) slower on 1M
    64-bit hashes.
    """
    if not len(values) or not len(pool):
        return np.zeros(len(values), bool)
    pool = np.sort(pool)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    at = np.minimum(np.searchsorted(pool, ordered), len(pool) - 1)
    out = np.empty(len(values), bool)
    out[order] = pool[at] == ordered
    return out


def distinct(values: np.ndarray) -> int:
    """How many distinct values (``len(np.unique(values))``, by one sort)."""
    ordered = np.sort(values)
    return int(len(ordered) and 1 + np.count_nonzero(ordered[1:] != ordered[:-1]))


@dataclass
class Columns:
    """The signatures of every readable row, concatenated in read order."""

    prompt: np.ndarray
    prompt_last: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    chosen_chars: np.ndarray
    rejected_chars: np.ndarray
    bands: np.ndarray | None = None  # (rows x bands)
    # (rows x num_perm): an array, or anything indexable by row arrays (scan.DiskRows)
    minhash: Any = None
    blank: np.ndarray | None = None  # prompt without words: no MinHash to compare


@dataclass
class EvalPrompts:
    """An evaluation set's prompts, as hashes: exact (normalised text) and MinHash."""

    exact: np.ndarray
    minhash: np.ndarray | None = None
    bands: np.ndarray | None = None


@dataclass
class Decided:
    """Per reason, a boolean mask over all rows; ``summary`` goes into the report."""

    masks: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def duplicate_rows(cols: Columns) -> np.ndarray:
    """Rows whose (prompt, chosen, rejected) an earlier row already had."""
    key = combine(cols.prompt, cols.chosen, cols.rejected)
    _, first = np.unique(key, return_index=True)
    duplicate = np.ones(len(key), bool)
    duplicate[first] = False
    return duplicate


def contradictory_rows(cols: Columns, keys: SeenKeys | None = None) -> np.ndarray:
    """Rows whose reversed pair (same prompt, chosen and rejected swapped) also occurs:
    whose reversed key is among the rows' keys (``combine(prompt, chosen, rejected)``).
    ``keys``: those keys already gathered, as the local engine's duplicate check holds
    them (looked up there instead of sorting them all)."""
    backward = combine(cols.prompt, cols.rejected, cols.chosen)
    if keys is not None:
        found = keys.contains(backward)
    else:
        found = member(backward, combine(cols.prompt, cols.chosen, cols.rejected))
    return found & (cols.chosen != cols.rejected)


def _bucket_pairs(bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, earliest row of its bucket) for every row sharing an LSH bucket, any band."""
    rows, reps = [], []
    for b in range(bands.shape[1] if len(bands) else 0):
        order = np.argsort(bands[:, b], kind="stable")  # stable: ties stay in read order
        sorted_keys = bands[order, b]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        run_first = np.repeat(order[starts], np.diff(np.r_[starts, len(order)]))
        later = order != run_first
        rows.append(order[later])
        reps.append(run_first[later])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(rows), np.concatenate(reps)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _verified(
    a_sig: np.ndarray, a: np.ndarray, b_sig: np.ndarray, b: np.ndarray, threshold: float
) -> np.ndarray:
    """Which candidate pairs (a[i], b[i]) really reach the threshold, block by block."""
    keep = np.zeros(len(a), bool)
    for lo in range(0, len(a), _VERIFY_BLOCK):
        hi = lo + _VERIFY_BLOCK
        keep[lo:hi] = (
            estimated_jaccard(np.asarray(a_sig[a[lo:hi]]), np.asarray(b_sig[b[lo:hi]])) >= threshold
        )
    return keep


def near_duplicate_rows(cols: Columns, lsh: LshParams) -> tuple[np.ndarray, int]:
    """Rows whose prompt is near (not equal) to an earlier, different prompt.

    Exact repeats of a prompt are normal (several pairs per prompt), so LSH runs over
    the distinct prompts only; every row of a distinct prompt that matches an earlier
    one is marked. A candidate from a shared bucket is kept when the estimated Jaccard
    similarity reaches the threshold: the LSH S-curve finds, the signature confirms.
    """
    assert cols.bands is not None and cols.minhash is not None
    _, first, inverse = np.unique(cols.prompt_last, return_index=True, return_inverse=True)
    # distinct prompts in read order, and the rows that are their first occurrence
    order = np.argsort(first, kind="stable")
    heads = first[order]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    blank = cols.blank[heads] if cols.blank is not None else np.zeros(len(heads), bool)
    usable = heads[~blank]
    row_ids, rep_ids = _bucket_pairs(cols.bands[usable])
    ok = _verified(cols.minhash, usable[row_ids], cols.minhash, usable[rep_ids], lsh.threshold)
    near_heads = np.zeros(len(cols.prompt_last), bool)
    near_heads[usable[row_ids[ok]]] = True
    near_prompt = near_heads[heads]  # per distinct prompt, in read order
    return near_prompt[rank[inverse.ravel()]], int(near_prompt.sum())


def contaminated_rows(
    cols: Columns, evals: EvalPrompts, lsh: LshParams | None
) -> tuple[np.ndarray, int]:
    """Rows whose prompt's last turn is in the eval set, exactly or (with LSH) nearly."""
    exact = member(cols.prompt_last, evals.exact)
    near = np.zeros(len(exact), bool)
    if lsh is not None and cols.bands is not None and evals.bands is not None and len(evals.bands):
        assert cols.minhash is not None and evals.minhash is not None
        for b in range(cols.bands.shape[1]):
            order = np.argsort(evals.bands[:, b], kind="stable")
            keys = evals.bands[order, b]
            pos = np.searchsorted(keys, cols.bands[:, b])
            hit = np.flatnonzero(
                (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == cols.bands[:, b])
            )
            hit = hit[~near[hit] & ~exact[hit]]
            ok = _verified(cols.minhash, hit, evals.minhash, order[pos[hit]], lsh.threshold)
            near[hit[ok]] = True
    return exact | near, int(near.sum())


def balance_rows(
    cols: Columns, eligible: np.ndarray, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """A seeded random subset of the longer-chosen (or longer-rejected) eligible pairs
    whose removal leaves chosen longer exactly as often as rejected.

    Ties (equal lengths) are neither and stay; the same input and seed always drop the
    same rows.
    """
    chosen_longer = np.flatnonzero(eligible & (cols.chosen_chars > cols.rejected_chars))
    rejected_longer = np.flatnonzero(eligible & (cols.chosen_chars < cols.rejected_chars))
    longer, shorter, side = (chosen_longer, rejected_longer, "chosen")
    if len(rejected_longer) > len(chosen_longer):
        longer, shorter, side = rejected_longer, chosen_longer, "rejected"
    excess = len(longer) - len(shorter)
    drop = np.zeros(len(eligible), bool)
    if excess:
        drop[np.random.default_rng(seed).choice(longer, excess, replace=False)] = True
    return drop, {
        "longer_side": side,
        "dropped": int(excess),
        "seed": seed,
        "why": f"{excess} pairs where {side} is longer were dropped at random so that "
        "chosen is longer in as many pairs as rejected",
    }


def decide(
    cols: Columns,
    config: FilterConfig,
    evals: EvalPrompts | None,
    *,
    known: dict[str, np.ndarray] | None = None,
) -> Decided:
    """Every dataset-level reason's rows, and the figures the report shows.

    ``known``: masks already decided elsewhere (duplicates, decided as rows streamed
    past; contradictions, from the keys gathered then), used as they are.
    """
    known = known or {}
    out = Decided()
    n = len(cols.prompt)
    wanted = [
        c for c in (reasons.DUPLICATE_PAIR, reasons.CONTRADICTORY_PAIR) if c not in config.disable
    ]
    if reasons.DUPLICATE_PAIR in wanted:
        out.masks[reasons.DUPLICATE_PAIR] = (
            known[reasons.DUPLICATE_PAIR]
            if reasons.DUPLICATE_PAIR in known
            else duplicate_rows(cols)
        )
    if reasons.CONTRADICTORY_PAIR in wanted:
        out.masks[reasons.CONTRADICTORY_PAIR] = (
            known[reasons.CONTRADICTORY_PAIR]
            if reasons.CONTRADICTORY_PAIR in known
            else contradictory_rows(cols)
        )
    distinct_prompts = distinct(cols.prompt_last)
    out.summary["distinct_prompts"] = distinct_prompts
    out.summary["rows_repeating_a_prompt"] = n - distinct_prompts
    lsh = lsh_for(config)
    near_asked = (config.near_duplicates or config.drop_near_duplicates) and (
        reasons.NEAR_DUPLICATE_PROMPT not in config.disable
    )
    if lsh is not None and near_asked:
        near, prompts = near_duplicate_rows(cols, lsh)
        out.summary["near_duplicate_prompt"] = {
            "rows": int(near.sum()),
            "distinct_prompts": prompts,
            "dropped": config.drop_near_duplicates,
            "threshold": lsh.threshold,
            "shingle_words": lsh.shingle_words,
            "num_perm": lsh.num_perm,
            "bands": lsh.bands,
            "rows_per_band": lsh.rows,
        }
        if config.drop_near_duplicates:
            out.masks[reasons.NEAR_DUPLICATE_PROMPT] = near
    elif near_asked:
        out.summary["near_duplicate_prompt"] = {
            "skipped": "datasketch is not installed: pip install 'prefdata[dedup]'"
        }
    if evals is not None and reasons.CONTAMINATED_PROMPT not in config.disable:
        hit, near_only = contaminated_rows(cols, evals, lsh)
        out.masks[reasons.CONTAMINATED_PROMPT] = hit
        out.summary["contaminated_prompt"] = {
            "rows": int(hit.sum()),
            "near_only": near_only,
            "eval_prompts": len(evals.exact),
        }
    if config.balance_length:
        dropped = np.zeros(n, bool)
        for mask in out.masks.values():
            dropped |= mask
        out.masks[reasons.LENGTH_BALANCE], out.summary["length_balance"] = balance_rows(
            cols, ~dropped, config.seed
        )
    for code, mask in out.masks.items():
        out.summary.setdefault(code, {"rows": int(mask.sum())})
    return out
