"""too_similar: the two responses differ too little to teach a preference.

Two metrics:

* ``indel`` (default): rapidfuzz's normalised Indel similarity, ``fuzz.ratio / 100`` =
  2 * LCS / (len_a + len_b). Symmetric and exact, computed for the whole batch with
  ``process.cpdist`` in C++.
* ``difflib``: exactly ``difflib.SequenceMatcher(None, chosen, rejected).ratio()``, the
  reference design's number, so its decisions can be reproduced pair for pair. That
  ratio counts matching blocks found greedily, never more than the LCS, so it is never
  above the Indel similarity: only pairs whose Indel similarity passes the threshold
  need the slow difflib call at all.

Either similarity is at most ``2 * min(a, b) / (a + b)`` for lengths ``a`` and ``b`` (the
LCS is never longer than the shorter text), so a pair whose lengths alone keep it at or
below ``max_similarity`` cannot be too similar and is not compared: long conversational
responses of very different lengths cost nothing. Such pairs get no similarity figure
(NaN), only that upper bound, published as ``similarity_at_most`` with why in
``similarity_why`` (``BOUND_WHY``); so do responses over ``max_response_chars`` (not
compared, for cost) and, with ``difflib``, pairs whose Indel figure (difflib's upper
bound) is below the threshold. The report counts those pairs at their bound, apart from
the exact figures (``prefdata.stats``), so no figure claims to be exact when it is not.
"""

from __future__ import annotations

from difflib import SequenceMatcher

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel

from prefdata import reasons
from prefdata.checks.base import Masks, PairView
from prefdata.config import FilterConfig

# Float slack for the difflib pre-filter: rapidfuzz and difflib compute the same kind of
# ratio in different orders, so allow for last-bit differences before skipping a pair.
_BOUND_SLACK = 1e-9

# Why a pair has only an upper bound (``similarity_why``; 0: its figure is exact).
BOUND_WHY = {
    1: "lengths_rule_out_threshold",
    2: "over_max_response_chars",
    3: "difflib_indel_bound",
}


def indel_similarity(chosen: list[str], rejected: list[str], *, workers: int = 1) -> np.ndarray:
    """Normalised Indel similarity of each (chosen[i], rejected[i]), vectorised."""
    if not chosen:
        return np.zeros(0, dtype=np.float64)
    result = process.cpdist(
        chosen, rejected, scorer=Indel.normalized_similarity, dtype=np.float64, workers=workers
    )
    return np.asarray(result, dtype=np.float64)


def too_similar(view: PairView, config: FilterConfig) -> Masks:
    n = len(view)
    similarity = np.full(n, np.nan)
    similarity[view.identical] = 1.0
    longest = np.maximum(view.chosen_chars, view.rejected_chars)
    total = view.chosen_chars + view.rejected_chars
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = np.where(
            total > 0, 2 * np.minimum(view.chosen_chars, view.rejected_chars) / total, 1.0
        )
    possible = bound > config.max_similarity - _BOUND_SLACK
    why = np.zeros(n, np.int8)
    why[~view.identical & ~possible] = 1
    why[~view.identical & possible & (longest > config.max_response_chars)] = 2
    at_most = np.where(why > 0, bound, np.nan)
    todo = np.flatnonzero((why == 0) & ~view.identical)
    if len(todo):
        chosen = view.chosen.take(todo).to_pylist()
        rejected = view.rejected.take(todo).to_pylist()
        similarity[todo] = indel_similarity(chosen, rejected)
        if config.similarity == "difflib":
            # difflib <= Indel: pairs below the threshold keep their Indel figure as an
            # upper bound only; candidates above it pay for SequenceMatcher.
            above = similarity[todo] > config.max_similarity - _BOUND_SLACK
            for i in np.flatnonzero(above):
                similarity[todo[i]] = SequenceMatcher(None, chosen[i], rejected[i]).ratio()
            below = todo[~above]
            why[below], at_most[below], similarity[below] = 3, similarity[below], np.nan
    view.stats["similarity"] = similarity
    view.stats["similarity_at_most"] = at_most
    view.stats["similarity_why"] = why
    with np.errstate(invalid="ignore"):
        return {reasons.TOO_SIMILAR: similarity > config.max_similarity}
