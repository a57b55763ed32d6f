"""Rule-based rewards to name as an iterate scorer, e.g. ``prefdata.iterate.rewards:exact_match``.

Pang et al. 2024 reward a sampled chain of thought 1 when its final answer equals the
gold answer and 0 otherwise; ``exact_match`` does that with the prompts file's
``answer`` column.
"""

from __future__ import annotations

import re
from typing import Any

# the last number in a completion, with an optional sign, thousands commas and decimals
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_answer(text: str) -> str | None:
    """The answer a completion ends on: after "The answer is" if present, else its last
    number; commas dropped, so "1,000" and "1000" match.

    >>> final_answer("3 + 4 = 7. The answer is 7.")
    '7'
    """
    marker = text.lower().rfind("answer is")
    tail = text[marker:] if marker >= 0 else text
    found = _NUMBER.findall(tail) if marker >= 0 else _NUMBER.findall(text)
    if found:
        return (found[0] if marker >= 0 else found[-1]).replace(",", "").rstrip(".")
    return None


def exact_match(prompts: list[Any], completions: list[str], answer: list[Any]) -> list[float]:
    """1.0 where the completion's final answer equals the gold ``answer``, else 0.0."""
    return [
        float(final_answer(text) == str(gold).replace(",", "").strip())
        for text, gold in zip(completions, answer, strict=True)
    ]
