"""The length-bias audit: is "chosen" just "longer"?

Reward models and DPO learn length as a proxy for quality when chosen responses are
longer far more often than rejected ones (Singhal et al. 2023, "A Long Way to Go"). The
figures here are gathered chunk by chunk in constant memory: the share of pairs with
the longer chosen, a histogram of chosen - rejected characters, and the correlation of
that difference with the pair's similarity (streaming sums, so chunks merge exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# chosen - rejected, in characters: symmetric, roughly logarithmic bins
DIFF_EDGES = [-(10**9), -1000, -200, -50, -10, 0, 1, 11, 51, 201, 1001, 10**9]
DIFF_LABELS = [
    "<-1000",
    "-1000..-201",
    "-200..-51",
    "-50..-11",
    "-10..-1",
    "0",
    "1..10",
    "11..50",
    "51..200",
    "201..1000",
    ">1000",
]
# similarity bands for "how often is chosen longer" at each level of similarity
SIMILARITY_BANDS = [0.0, 0.5, 0.8, 0.9, 1.0000001]


@dataclass
class LengthBias:
    """Streaming sums for the length-bias figures (all pairs, and kept pairs)."""

    diff_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(DIFF_EDGES) - 1, np.int64))
    # Pearson sums over pairs with a similarity: n, x, y, xx, yy, xy (x = diff, y = sim)
    sums: np.ndarray = field(default_factory=lambda: np.zeros(6, np.float64))
    band_pairs: np.ndarray = field(
        default_factory=lambda: np.zeros(len(SIMILARITY_BANDS) - 1, np.int64)
    )
    band_chosen_longer: np.ndarray = field(
        default_factory=lambda: np.zeros(len(SIMILARITY_BANDS) - 1, np.int64)
    )
    kept_pairs: int = 0
    kept_chosen_longer: int = 0
    kept_rejected_longer: int = 0

    def add(
        self,
        chosen: np.ndarray,
        rejected: np.ndarray,
        similarity: np.ndarray | None,
        kept: np.ndarray | None,
    ) -> None:
        diff = (chosen - rejected).astype(np.float64)
        self.diff_counts += np.histogram(
            np.clip(diff, DIFF_EDGES[0], DIFF_EDGES[-1] - 1), DIFF_EDGES
        )[0]
        if similarity is not None:
            ok = ~np.isnan(similarity)
            x, y = diff[ok], similarity[ok]
            self.sums += [len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()]
            band = np.clip(
                np.searchsorted(SIMILARITY_BANDS, y, side="right") - 1, 0, len(self.band_pairs) - 1
            )
            self.band_pairs += np.bincount(band, minlength=len(self.band_pairs))
            self.band_chosen_longer += np.bincount(band[x > 0], minlength=len(self.band_pairs))
        if kept is not None:
            self.kept_pairs += int(kept.sum())
            self.kept_chosen_longer += int((kept & (diff > 0)).sum())
            self.kept_rejected_longer += int((kept & (diff < 0)).sum())

    def unkeep(self, chosen: np.ndarray, rejected: np.ndarray) -> None:
        """Pairs counted as kept that a later, dataset-wide decision dropped."""
        diff = chosen - rejected
        self.kept_pairs -= len(diff)
        self.kept_chosen_longer -= int((diff > 0).sum())
        self.kept_rejected_longer -= int((diff < 0).sum())

    def merge(self, other: LengthBias) -> None:
        self.diff_counts += other.diff_counts
        self.sums += other.sums
        self.band_pairs += other.band_pairs
        self.band_chosen_longer += other.band_chosen_longer
        self.kept_pairs += other.kept_pairs
        self.kept_chosen_longer += other.kept_chosen_longer
        self.kept_rejected_longer += other.kept_rejected_longer

    def correlation(self) -> float | None:
        """Pearson correlation of (chosen - rejected chars) with similarity, or None."""
        n, sx, sy, sxx, syy, sxy = self.sums
        if n < 2:
            return None
        var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
        if var_x <= 0 or var_y <= 0:
            return None
        # rounded: partial sums merged in another order (worker threads, Ray) differ in
        # the last bits, and the same data must give the same report
        return round(float((n * sxy - sx * sy) / np.sqrt(var_x * var_y)), 9)

    def to_dict(self) -> dict[str, Any]:
        bands = [
            {
                "similarity": f"{lo:.1f}-{min(hi, 1.0):.1f}",
                "pairs": int(p),
                "chosen_longer_share": (int(c) / int(p)) if p else None,
            }
            for lo, hi, p, c in zip(
                SIMILARITY_BANDS[:-1],
                SIMILARITY_BANDS[1:],
                self.band_pairs,
                self.band_chosen_longer,
                strict=True,
            )
        ]
        kept = self.kept_pairs
        return {
            "length_diff_histogram": {"labels": DIFF_LABELS, "counts": self.diff_counts.tolist()},
            "diff_similarity_correlation": self.correlation(),
            # the correlation and the bands cover the pairs with an exact similarity only
            "similarity_pairs": int(self.sums[0]),
            "chosen_longer_by_similarity": bands,
            "kept_chosen_longer_share": self.kept_chosen_longer / kept if kept else None,
            "kept_rejected_longer_share": self.kept_rejected_longer / kept if kept else None,
        }
