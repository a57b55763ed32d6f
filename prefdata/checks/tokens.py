"""Tokenizer-aware checks: what a DPO trainer with ``max_length`` would do to a pair.

On only with ``--tokenizer`` (and, for the length limits, ``--max-length``):

* ``prompt_too_long``: the prompt alone reaches max_length; TRL drops such rows
  silently (nothing of the response would remain).
* ``response_truncated``: prompt + chosen or prompt + rejected exceeds max_length, so the
  trainer compares cut-off responses: the part that made one better may be gone.
* ``identical_after_truncation``: the prompt fits, but after the cut the two sequences
  are the same tokens: the pair teaches nothing, and its loss is exactly log 2.
* ``prompt_boundary_merge``: the prompt's tokens are not a prefix of the prompt +
  response tokens (a BPE merge across the boundary, or a chat template that renders
  the prompt differently alone); the trainer's prompt mask then cuts in the wrong place.
"""

from __future__ import annotations

import numpy as np

from prefdata import reasons
from prefdata.checks.base import Masks, PairView
from prefdata.config import FilterConfig


def token_limits(view: PairView, config: FilterConfig) -> Masks:
    if not config.tokenizer or len(view) == 0:
        return {}
    from prefdata.tokenization import pair_tokens  # transformers only when asked for

    tokens = pair_tokens(view, config)
    masks = {reasons.PROMPT_BOUNDARY_MERGE: ~tokens.prompt_is_prefix}
    if config.max_length is not None:
        limit = config.max_length
        # the counts TRL uses: its prompt is the shared prefix, its sequences the whole
        # prompt + response (+ EOS for text); see prefdata.tokenization
        prompt = tokens.boundary
        chosen, rejected = tokens.lengths(tokens.with_chosen), tokens.lengths(tokens.with_rejected)
        same = np.fromiter(
            (
                c[:limit] == r[:limit]
                for c, r in zip(tokens.with_chosen, tokens.with_rejected, strict=True)
            ),
            bool,
            len(view),
        )
        masks[reasons.PROMPT_TOO_LONG] = prompt >= limit
        masks[reasons.RESPONSE_TRUNCATED] = (chosen > limit) | (rejected > limit)
        # a prompt that fills max_length leaves no response at all: that is prompt_too_long
        masks[reasons.IDENTICAL_AFTER_TRUNCATION] = same & ~view.identical & (prompt < limit)
    return masks
