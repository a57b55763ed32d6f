"""Length checks: empty, too short to mean anything, too long to compare."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from prefdata import reasons
from prefdata.checks.base import Masks, PairView, _lengths
from prefdata.config import FilterConfig


def empty_response(view: PairView, config: FilterConfig) -> Masks:
    """Either response is empty or only whitespace."""
    empty_c = _lengths(pc.utf8_trim_whitespace(view.chosen)) == 0
    empty_r = _lengths(pc.utf8_trim_whitespace(view.rejected)) == 0
    return {reasons.EMPTY_RESPONSE: empty_c | empty_r}


def too_short(view: PairView, config: FilterConfig) -> Masks:
    """Responses under the minimum length, in characters (Unicode code points).

    Characters are a poor unit across scripts: 50 characters of Chinese carry far more
    than 50 of English, so set per-language minimums (or count tokens) for mixed data.
    """
    return {
        reasons.CHOSEN_TOO_SHORT: view.chosen_chars < config.min_chosen_chars,
        reasons.REJECTED_TOO_SHORT: view.rejected_chars < config.min_rejected_chars,
    }


def too_long(view: PairView, config: FilterConfig) -> Masks:
    """Responses past max_response_chars, which the similarity check will not compare."""
    longest = np.maximum(view.chosen_chars, view.rejected_chars)
    return {reasons.RESPONSE_TOO_LONG: longest > config.max_response_chars}
