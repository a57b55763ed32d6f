"""Dataset-level checks: reasons that need the whole input, not one batch.

A first pass (``scan``) reads every row into compact signatures (hashes and lengths);
``decide`` turns them into the rows each reason drops; the main pass then applies those
decisions chunk by chunk through ``process_chunk``'s ``decided`` argument, so chunks
stay independent and picklable.
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
