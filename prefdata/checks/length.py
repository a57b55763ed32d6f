"""Length checks: empty, too short to mean anything, too long to compare."""

from __future__ import annotations

import numpy as np

from prefdata import reasons
from prefdata.checks.base import Masks, PairView, blank
from prefdata.config import FilterConfig


def empty_response(view: PairView, config: FilterConfig) -> Masks:
    """Either response is empty or only whitespace."""
    return {reasons.EMPTY_RESPONSE: blank(view.chosen) | blank(view.rejected)}


def too_short(view: PairView, config: FilterConfig) -> Masks:
    """Responses under the minimum length, in characters (Unicode code points) or tokens.

    Characters are a poor unit across scripts: 50 characters of Chinese carry far more
    than 50 of English, so mixed data is better measured with ``length_unit: tokens``
    (the tokens each response adds to the prompt, with the --tokenizer given).
    """
    chosen, rejected = view.chosen_chars, view.rejected_chars
    if config.length_unit == "tokens" and len(view):
        from prefdata.tokenization import pair_tokens

        tokens = pair_tokens(view, config)
        chosen, rejected = tokens.chosen_tokens, tokens.rejected_tokens
    return {
        reasons.CHOSEN_TOO_SHORT: chosen < config.min_chosen_chars,
        reasons.REJECTED_TOO_SHORT: rejected < config.min_rejected_chars,
    }


def too_long(view: PairView, config: FilterConfig) -> Masks:
    """Responses past max_response_chars, which the similarity check will not compare."""
    longest = np.maximum(view.chosen_chars, view.rejected_chars)
    return {reasons.RESPONSE_TOO_LONG: longest > config.max_response_chars}
