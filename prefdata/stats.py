"""Dataset figures gathered batch by batch in constant memory: histograms and length bias.

Lengths are in characters of the final response; the similarity is the one the
too_similar check computed. A pair it has no exact figure for (its lengths rule out the
threshold, a response is over max_response_chars, or difflib's Indel bound) is counted
apart, at the bin of the upper bound the check gives (``similarity_at_most``): its
similarity is in that bin or a lower one. Exact and bounded counts together cover every
pair the check looked at; the length-bias figures by similarity use the exact ones only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefdata.checks.similarity import BOUND_WHY
from prefdata.length_bias import LengthBias

# Roughly logarithmic: response lengths span four orders of magnitude.
LENGTH_EDGES = [0, 1, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000]
SIMILARITY_EDGES = [round(x, 2) for x in np.linspace(0.0, 1.0, 21)]


def _histogram(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    # the last bin is open-ended: anything past the last edge lands in it
    clipped = np.minimum(values, edges[-1])
    counts, _ = np.histogram(clipped, bins=[*edges[:-1], edges[-1] + 1e-9])
    return counts


@dataclass
class Stats:
    """Figures over every pair the checks looked at (kept or dropped by a check)."""

    pairs: int = 0
    chosen_longer: int = 0
    rejected_longer: int = 0
    length_diff_sum: float = 0.0
    chosen_chars: np.ndarray = field(
        default_factory=lambda: np.zeros(len(LENGTH_EDGES) - 1, np.int64)
    )
    rejected_chars: np.ndarray = field(
        default_factory=lambda: np.zeros(len(LENGTH_EDGES) - 1, np.int64)
    )
    similarity: np.ndarray = field(
        default_factory=lambda: np.zeros(len(SIMILARITY_EDGES) - 1, np.int64)
    )
    bias: LengthBias = field(default_factory=LengthBias)
    # pairs with only an upper bound, counted at the bound's bin, and why
    similarity_at_most: np.ndarray = field(
        default_factory=lambda: np.zeros(len(SIMILARITY_EDGES) - 1, np.int64)
    )
    similarity_why: np.ndarray = field(
        default_factory=lambda: np.zeros(len(BOUND_WHY) + 1, np.int64)
    )

    def add(
        self,
        chosen_chars: np.ndarray,
        rejected_chars: np.ndarray,
        similarity: np.ndarray | None,
        *,
        kept: np.ndarray | None = None,
        at_most: np.ndarray | None = None,
        why: np.ndarray | None = None,
    ) -> None:
        self.bias.add(chosen_chars, rejected_chars, similarity, kept)
        self.pairs += len(chosen_chars)
        self.chosen_longer += int((chosen_chars > rejected_chars).sum())
        self.rejected_longer += int((chosen_chars < rejected_chars).sum())
        self.length_diff_sum += float((chosen_chars - rejected_chars).sum())
        self.chosen_chars += _histogram(chosen_chars, LENGTH_EDGES)
        self.rejected_chars += _histogram(rejected_chars, LENGTH_EDGES)
        if similarity is not None:
            self.similarity += _histogram(similarity, SIMILARITY_EDGES)
        if at_most is not None and why is not None:
            self.similarity_at_most += _histogram(at_most, SIMILARITY_EDGES)
            self.similarity_why += np.bincount(why, minlength=len(self.similarity_why))

    def merge(self, other: Stats) -> None:
        """Add another chunk's figures to these."""
        self.pairs += other.pairs
        self.chosen_longer += other.chosen_longer
        self.rejected_longer += other.rejected_longer
        self.length_diff_sum += other.length_diff_sum
        self.chosen_chars += other.chosen_chars
        self.rejected_chars += other.rejected_chars
        self.similarity += other.similarity
        self.similarity_at_most += other.similarity_at_most
        self.similarity_why += other.similarity_why
        self.bias.merge(other.bias)

    def to_dict(self) -> dict[str, Any]:
        share = self.chosen_longer / self.pairs if self.pairs else None
        return {
            "pairs_checked": self.pairs,
            "length_bias": {
                "chosen_longer_share": share,
                "rejected_longer_share": self.rejected_longer / self.pairs if self.pairs else None,
                "mean_length_diff_chars": self.length_diff_sum / self.pairs if self.pairs else None,
                **self.bias.to_dict(),
            },
            "histograms": {
                "chosen_chars": {"edges": LENGTH_EDGES, "counts": self.chosen_chars.tolist()},
                "rejected_chars": {"edges": LENGTH_EDGES, "counts": self.rejected_chars.tolist()},
                "similarity": self._similarity(),
            },
        }

    def _similarity(self) -> dict[str, Any]:
        why = {name: int(self.similarity_why[k]) for k, name in BOUND_WHY.items()}
        bounded = int(self.similarity_at_most.sum())
        return {
            "edges": SIMILARITY_EDGES,
            "counts": self.similarity.tolist(),  # exact figures, by value
            "exact": int(self.similarity.sum()),
            # pairs with an upper bound only, at the bound's bin: each one's similarity
            # lies in that bin or a lower one
            "at_most_counts": self.similarity_at_most.tolist(),
            "at_most": bounded,
            "at_most_why": why,
            # the pairs the check did not compare at all
            "not_compared": bounded - why["difflib_indel_bound"],
        }
