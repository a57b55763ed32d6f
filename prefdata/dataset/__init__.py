"""Dataset-level checks: reasons that need the whole input, not one batch.

Along the main pass (``along.DatasetPass``) every checked row leaves a compact signature
(hashes and lengths); exact duplicates are decided as rows arrive, and ``decide`` turns
the whole set of signatures into the rows each remaining reason drops once the pass is
over; ``late`` moves those rows out of the outputs already written.
"""

from __future__ import annotations

from prefdata import reasons

# Names accepted by ``disable`` (besides the per-pair checks).
DATASET_CHECKS = (
    reasons.DUPLICATE_PAIR,
    reasons.CONTRADICTORY_PAIR,
    reasons.NEAR_DUPLICATE_PROMPT,
    reasons.CONTAMINATED_PROMPT,
)

__all__ = ["DATASET_CHECKS"]
