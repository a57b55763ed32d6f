"""Reason codes of ``prefdata preflight``: stable snake_case names, listed in the README.

A pair gets every code that applies. Only the ``DROPS`` codes mean the trainer removes
the pair; the others are what it does to a pair it keeps.
"""

from __future__ import annotations

# TRL drops the pair: its prompt alone fills max_length (keep_start), so no completion
# token would be left ("Dropping fully truncated examples" is all TRL shows).
PROMPT_FILLS_MAX_LENGTH = "prompt_fills_max_length"
# TRL's extract_prompt cannot split the pair (an empty chosen or rejected): TRL raises.
PROMPT_NOT_EXTRACTABLE = "prompt_not_extractable"
# prompt + chosen or prompt + rejected is over max_length: the trainer cuts it.
RESPONSE_TRUNCATED = "response_truncated"
# after the cut, the chosen and rejected sequences are the same tokens: loss is log 2.
IDENTICAL_AFTER_TRUNCATION = "identical_after_truncation"
# one sequence ends with EOS and the other does not (after the cut): the pair then
# also teaches "stop here" against "go on".
EOS_MISMATCH = "eos_mismatch"
# the prompt's tokens are not a prefix of prompt + response (a BPE merge across the
# boundary, or a chat template that renders the prompt alone differently, such as a
# generation prompt with an empty <think> block): the trainer's completion starts at
# the divergence, so part of the prompt or of the response moves sides.
PROMPT_BOUNDARY_MERGE = "prompt_boundary_merge"
# implicit-prompt data: the trainer's prompt extraction is not the shared prefix cut at
# a whole turn or word (it ends mid-word, or misses a shared last turn).
PROMPT_EXTRACTION_DIFFERS = "prompt_extraction_differs"

# LLaMA-Factory drops the pair: its prompt has an even number of turns (after a leading
# system message), or a response is missing ("Dropped invalid example").
INVALID_TURNS = "invalid_turns"
# LLaMA-Factory cuts the prompt (it keeps its start) to fit cutoff_len.
PROMPT_TRUNCATED = "prompt_truncated"

DROPS = (PROMPT_FILLS_MAX_LENGTH, PROMPT_NOT_EXTRACTABLE, INVALID_TURNS)
ALL = (
    PROMPT_FILLS_MAX_LENGTH,
    PROMPT_NOT_EXTRACTABLE,
    RESPONSE_TRUNCATED,
    IDENTICAL_AFTER_TRUNCATION,
    EOS_MISMATCH,
    PROMPT_BOUNDARY_MERGE,
    PROMPT_EXTRACTION_DIFFERS,
    INVALID_TURNS,
    PROMPT_TRUNCATED,
)
