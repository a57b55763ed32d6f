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


def check_disable_names(names: list[str]) -> None:
    """Fail in one line when ``disable`` names a check neither registry holds."""
    from prefdata.checks import CHECKS  # imported here: the checks import the config
    from prefdata.errors import ConfigError

    valid = sorted({*CHECKS, *DATASET_CHECKS})
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ConfigError(f"disable names unknown checks {unknown}; valid: {valid}")


__all__ = ["DATASET_CHECKS", "check_disable_names"]
