"""Reason codes of ``prefdata preflight``: stable snake_case names, listed in the README.

A pair gets every code that applies. Only the ``DROPS`` codes mean the trainer removes
the pair; the others are what it does to a pair it keeps.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

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


def columns(flags: dict[str, np.ndarray], n: int) -> tuple[pa.Array, pa.Array]:
    """The per-pair ``reasons`` (every code whose flag is set, in ``flags`` order) and
    ``drop_reason`` (the first ``DROPS`` code set, else null) columns, built without a
    Python loop over pairs.

    >>> r, d = columns({PROMPT_FILLS_MAX_LENGTH: np.array([1, 0], bool),
    ...                 EOS_MISMATCH: np.array([1, 1], bool)}, 2)
    >>> r.to_pylist(), d.to_pylist()
    ([['prompt_fills_max_length', 'eos_mismatch'], ['eos_mismatch']], ['prompt_fills_max_length', None])
    """
    names = list(flags)
    matrix = np.column_stack([flags[c] for c in names]) if n else np.zeros((0, len(names)), bool)
    _, which = np.nonzero(matrix)  # row-major: each row's codes in `names` order
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=1))]).astype(np.int32)
    values = pa.array(np.array(names, dtype=object)[which], pa.string())
    reasons = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
    first = np.full(n, None, dtype=object)
    for code in reversed([c for c in names if c in DROPS]):  # the earliest code set wins
        first[np.asarray(flags[code], bool)] = code
    return reasons, pa.array(first, pa.string())
