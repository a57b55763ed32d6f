"""The dataset-level checks, decided along the main pass instead of in a pass of their own.

Every checked row's signature (hashes and lengths, about 100 bytes) is kept as the rows
stream past. Exact duplicates are decided on the spot: the first occurrence in read
order is kept, so whether a row repeats an earlier one is known when it arrives, and
its chunk is split with that reason already in. The reasons that need the whole
dataset (contradictions, near-duplicate prompts, contamination, length balance) are
decided once the pass is over; ``prefdata.dataset.late`` then moves the rows they drop,
which is nothing at all in the common case of a set with no contradictions.

MinHash signatures (4 bytes per permutation) go to a file in ``work_dir`` and are read
back with ``pread`` only for the candidate pairs LSH proposes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefdata import reasons
from prefdata.config import FilterConfig
from prefdata.dataset.decisions import Columns, combine, contradictory_rows, decide
from prefdata.dataset.eval_sets import load_eval_prompts
from prefdata.dataset.minhash import lsh_for
from prefdata.dataset.seen import SeenKeys
from prefdata.dataset.signatures import Signatures

_FIELDS = ("prompt", "prompt_last", "chosen", "rejected", "chosen_chars", "rejected_chars")
# a row's place in read order: (source number << 40) | source row
_ROW_BITS = 40


def row_keys(source: int, source_rows: np.ndarray) -> np.ndarray:
    """Each row's place in read order as one int64: its source's number, then its row."""
    return (np.int64(source) << np.int64(_ROW_BITS)) | source_rows.astype(np.int64, copy=False)


class DiskRows:
    """Rows of a (rows x width) uint32 file, read with ``pread`` on demand.

    Not a memmap: mapped pages count as the process's resident memory, and candidate
    rows are scattered, so a memmap ended up resident in full (measured: the whole
    488 MiB file for 1M prompts). ``pread`` goes through the page cache, which the
    kernel may drop; one call per row is fine for the few rows LSH proposes (~40k per
    million prompts: tens of milliseconds).
    """

    def __init__(self, path: Path, rows: int, width: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.shape = (rows, width)
        self._row_bytes = 4 * width

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        index = np.atleast_1d(np.asarray(index))
        out = np.empty((len(index), self.shape[1]), np.uint32)
        for k, row in enumerate(index.tolist()):
            out[k] = np.frombuffer(
                os.pread(self._fd, self._row_bytes, row * self._row_bytes), np.uint32
            )
        return out

    def close(self) -> None:
        os.close(self._fd)


def dataset_pass_needed(config: FilterConfig) -> bool:
    """Whether any dataset-level reason or figure is wanted (then signatures are kept)."""
    on = [
        c for c in (reasons.DUPLICATE_PAIR, reasons.CONTRADICTORY_PAIR) if c not in config.disable
    ]
    return bool(on or config.near_duplicates_wanted() or config.balance_length)


@dataclass
class Late:
    """The reasons decided after the pass, per row in read order (``key``: ``row_keys``)."""

    key: np.ndarray
    masks: dict[str, np.ndarray]  # code -> mask over ``key``
    chosen_chars: np.ndarray
    rejected_chars: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)

    def dropping(self) -> np.ndarray:
        """Which rows any late reason drops."""
        out = np.zeros(len(self.key), bool)
        for mask in self.masks.values():
            out |= mask
        return out


class DatasetPass:
    """Signatures collected chunk by chunk, in read order; duplicates decided as they come."""

    def __init__(self, config: FilterConfig, work_dir: Path) -> None:
        self.config = config
        self.lsh = lsh_for(config)
        self.online = reasons.DUPLICATE_PAIR not in config.disable
        self._seen = SeenKeys()
        self._parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("key", *_FIELDS, "duplicate", "blank", "bands")
        }
        self._minhash_path = work_dir / "prompt-minhash.u32"
        self._minhash = open(self._minhash_path, "wb") if self.lsh is not None else None  # noqa: SIM115

    def add(self, source: int, sig: Signatures) -> dict[str, np.ndarray]:
        """Keep one chunk's signatures; returns its duplicates, as ``finish`` expects them.

        ``source`` numbers the chunk's source file in read order (0, 1, ...).
        """
        parts = self._parts
        parts["key"].append(row_keys(source, sig.source_row))
        for name in _FIELDS:
            parts[name].append(getattr(sig, name))
        if sig.bands is not None and sig.minhash is not None and sig.blank is not None:
            assert self._minhash is not None
            parts["bands"].append(sig.bands)
            parts["blank"].append(sig.blank)
            self._minhash.write(np.ascontiguousarray(sig.minhash).tobytes())
        if not self.online:
            return {}
        duplicate = self._seen.repeats(combine(sig.prompt, sig.chosen, sig.rejected))
        parts["duplicate"].append(duplicate)
        return {reasons.DUPLICATE_PAIR: sig.source_row[duplicate]}

    def reverses(self, sig: Signatures) -> bool:
        """Whether a row of ``sig`` (added already) is the reversed pair of a row added
        so far, itself included: a contradiction the end of the pass will decide."""
        if not self.online or reasons.CONTRADICTORY_PAIR in self.config.disable:
            return False
        differ = sig.chosen != sig.rejected
        backward = combine(sig.prompt[differ], sig.rejected[differ], sig.chosen[differ])
        return bool(self._seen.contains(backward).any())

    def finish(self) -> Late:
        """Decide the reasons that need every row; the signatures are let go."""
        if self._minhash is not None:
            self._minhash.close()
        parts = self._parts
        seen, self._seen = self._seen, SeenKeys()
        # one column at a time, freeing its chunk list as it goes: never two copies of all
        merged = {k: np.concatenate(parts.pop(k)) for k in list(parts) if parts[k]}
        n = len(merged.get("key", ()))
        cols = Columns(**{k: merged.get(k, np.zeros(0, np.uint64)) for k in _FIELDS})
        known: dict[str, np.ndarray] = {}
        if self.online:
            known[reasons.DUPLICATE_PAIR] = merged.get("duplicate", np.zeros(n, bool))
            if reasons.CONTRADICTORY_PAIR not in self.config.disable:
                # every row's key is in ``seen``: a lookup there, not a sort of them all
                known[reasons.CONTRADICTORY_PAIR] = contradictory_rows(cols, seen)
        del seen
        if self.lsh is not None:
            cols.blank = merged.get("blank", np.zeros(n, bool))
            cols.bands = merged.get("bands", np.zeros((0, self.lsh.bands), np.uint64))
            cols.minhash = DiskRows(self._minhash_path, n, self.lsh.num_perm)
        try:
            evals = (
                load_eval_prompts(self.config.eval_sets, self.lsh)
                if self.config.eval_sets
                else None
            )
            decided = decide(cols, self.config, evals, known=known)
        finally:
            if isinstance(cols.minhash, DiskRows):
                cols.minhash.close()
            if self._minhash is not None:
                os.unlink(self._minhash_path)
        # duplicates were applied as the rows came; the rest move rows now
        online = {reasons.DUPLICATE_PAIR} if self.online else set()
        masks = {code: mask for code, mask in decided.masks.items() if code not in online}
        return Late(
            merged.get("key", np.zeros(0, np.int64)),
            masks,
            cols.chosen_chars,
            cols.rejected_chars,
            decided.summary,
        )
