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

Either similarity is at most ``2 * LCS / (a + b)`` for character lengths ``a`` and ``b``,
so cheap upper bounds on the LCS (``similarity_bound``: the shorter length, then the
characters both texts have in common) show most pairs of long responses cannot be too
similar; those are not compared. Such pairs get no similarity figure (NaN), only the
bound, published as ``similarity_at_most`` with why in ``similarity_why``
(``BOUND_WHY``); so do responses over ``max_response_chars`` (not compared, for cost)
and, with ``difflib``, pairs whose Indel figure (difflib's upper bound) is below the
threshold. The report counts those pairs at their bound, apart from the exact figures
(``prefdata.stats``), so no figure claims to be exact when it is not.
"""

from __future__ import annotations

from difflib import SequenceMatcher

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel

from prefdata import reasons
from prefdata.checks.base import Masks, PairView
from prefdata.checks.similarity_bound import characters_bound, distinct_pairs, length_bound
from prefdata.config import FilterConfig

# Float slack for the difflib pre-filter: rapidfuzz and difflib compute the same kind of
# ratio in different orders, so allow for last-bit differences before skipping a pair.
_BOUND_SLACK = 1e-9

# Why a pair has only an upper bound (``similarity_why``; 0: its figure is exact).
BOUND_WHY = {
    1: "lengths_rule_out_threshold",
    2: "over_max_response_chars",
    3: "difflib_indel_bound",
    4: "characters_rule_out_threshold",
}
# Counting characters pays for long responses only: Indel's bit-parallel comparison of
# a few hundred characters costs less than counting them. Per 8k-pair chunk (best of 5):
# 1M generated pairs (~300 characters) 4.5 ms from 256 against 3.3 ms from 1024; the DPO
# demo's (median 1,456) 5.2 against 4.9 ms; HH-RLHF's answers alike either way.
CHARACTERS_FROM = 1024


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
    a, b = view.chosen_chars, view.rejected_chars
    longest = np.maximum(a, b)
    bound = length_bound(a, b)
    possible = bound > config.max_similarity - _BOUND_SLACK
    why = np.zeros(n, np.int8)
    why[~view.identical & ~possible] = 1
    why[~view.identical & possible & (longest > config.max_response_chars)] = 2
    at_most = np.where(why > 0, bound, np.nan)
    candidates = np.flatnonzero((why == 0) & ~view.identical)
    # each distinct (chosen, rejected) pair of texts is bounded and compared once, its
    # figures then copied to the rows repeating it
    first, copies = distinct_pairs(view.chosen.take(candidates), view.rejected.take(candidates))
    todo = candidates[first]
    counted = todo[longest[todo] >= CHARACTERS_FROM]
    if len(counted):
        by_characters = characters_bound(
            view.chosen.take(counted), view.rejected.take(counted), a[counted], b[counted]
        )
        out = by_characters <= config.max_similarity - _BOUND_SLACK
        why[counted[out]], at_most[counted[out]] = 4, by_characters[out]
        todo = todo[why[todo] == 0]
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
    shown = candidates[first][copies]  # the row whose figures each candidate takes
    similarity[candidates], why[candidates] = similarity[shown], why[shown]
    at_most[candidates] = at_most[shown]
    view.stats["similarity"] = similarity
    view.stats["similarity_at_most"] = at_most
    view.stats["similarity_why"] = why
    with np.errstate(invalid="ignore"):
        return {reasons.TOO_SIMILAR: similarity > config.max_similarity}
