"""One row per response with attribute scores (HelpSteer2 style) binarised into pairs.

HelpSteer2 rows are ``prompt``, ``response`` and five 0-4 scores (helpfulness,
correctness, coherence, complexity, verbosity). Rows are grouped by prompt (all rows of
the file: grouping holds them in memory), each response is scored by one attribute
(``helpfulness`` by default) or a weighted sum (``"helpfulness=0.65,correctness=0.8"``),
and the group is binarised like any rated record: best vs worst or best vs random, equal
scores skipped as ``tied_scores``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prefdata.errors import ConfigError

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def is_rated_row(record: Any) -> bool:
    return (
        isinstance(record, Mapping)
        and isinstance(record.get("response"), str)
        and "prompt" in record
        and any(k in record for k in ATTRIBUTES)
        and "chosen" not in record
    )


def parse_score(spec: str) -> dict[str, float]:
    """``"helpfulness"`` or ``"helpfulness=0.65,correctness=0.8"`` as attribute weights.

    >>> parse_score("helpfulness=0.5, coherence=2")
    {'helpfulness': 0.5, 'coherence': 2.0}
    """
    weights: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition("=")
        try:
            weights[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(
                f"score weight for {name!r} must be a number, got {weight!r}"
            ) from None
    if not weights or any(not name for name in weights):
        raise ConfigError(f"--score must name an attribute or name=weight pairs, got {spec!r}")
    return weights


def _score(value: Any) -> float | None:
    """A finite score: a number, or its text (CSV reads every column as text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        score = float(value)
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def grouped(
    rows: Iterable[Any], weights: Mapping[str, float], skipped: dict[str, int]
) -> Iterator[dict[str, Any]]:
    """Rated records (``prompt`` + ``responses`` + ``scores``), one per prompt."""
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("prompt"), str):
            skipped["missing_prompt"] = skipped.get("missing_prompt", 0) + 1
            continue
        values = [v for name in weights if (v := _score(row.get(name))) is not None]
        if len(values) != len(weights):
            skipped["missing_score"] = skipped.get("missing_score", 0) + 1
            continue
        group = groups.setdefault(
            row["prompt"], {"prompt": row["prompt"], "responses": [], "scores": []}
        )
        group["responses"].append(row.get("response"))
        group["scores"].append(sum(w * v for w, v in zip(weights.values(), values, strict=True)))
    yield from groups.values()
