"""A growing set of 64-bit keys for deciding exact duplicates as rows stream past."""

from __future__ import annotations

import numpy as np


class SeenKeys:
    """Keys seen so far, as a few sorted runs (8 bytes a key, lookups vectorised).

    A new chunk's keys become a run; runs of similar size are merged, as in a binary
    counter, so there are at most about log2(n / chunk) runs and each key is merged
    O(log n) times. Merging two sorted runs with a stable sort is a linear-time merge.
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        hit = np.zeros(len(keys), bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            hit |= run[at] == keys
        return hit

    def _add(self, run: np.ndarray) -> None:
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.sort(np.concatenate([self._runs.pop(), run]), kind="stable")
        self._runs.append(run)

    def repeats(self, keys: np.ndarray) -> np.ndarray:
        """Which of ``keys`` were seen before (here or in an earlier call); adds them all.

        Within ``keys``, the first of equal keys counts as new and the rest as repeats.
        """
        unique, first = np.unique(keys, return_index=True)
        repeat = np.ones(len(keys), bool)
        repeat[first] = False
        old = self.contains(unique)
        repeat[first[old]] = True
        if (~old).any():
            self._add(unique[~old])
        return repeat
