"""Dataset figures gathered batch by batch in constant memory: histograms and length bias.

Lengths are in characters of the final response; the similarity is the one the
too_similar check computed (NaN for pairs it did not compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    # pairs with no similarity figure: lengths rule out the threshold, or a response is
    # over max_response_chars (see checks/similarity.py)
    similarity_not_compared: int = 0

    def add(
        self,
        chosen_chars: np.ndarray,
        rejected_chars: np.ndarray,
        similarity: np.ndarray | None,
        *,
        kept: np.ndarray | None = None,
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
            self.similarity_not_compared += int(np.isnan(similarity).sum())

    def merge(self, other: Stats) -> None:
        """Add another chunk's figures to these."""
        self.pairs += other.pairs
        self.chosen_longer += other.chosen_longer
        self.rejected_longer += other.rejected_longer
        self.length_diff_sum += other.length_diff_sum
        self.chosen_chars += other.chosen_chars
        self.rejected_chars += other.rejected_chars
        self.similarity += other.similarity
        self.similarity_not_compared += other.similarity_not_compared
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
                "similarity": {
                    "edges": SIMILARITY_EDGES,
                    "counts": self.similarity.tolist(),
                    "not_compared": self.similarity_not_compared,
                },
            },
        }
