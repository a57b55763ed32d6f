"""Rule-based scorers for the iterate tests, named as ``tests.iterate_rewards:NAME``.

``count_target`` rewards each letter "e" in a completion: a tiny random model emits
many BPE tokens with and without it, so k samples differ in reward, and DPO can learn
to prefer such tokens within a few steps.
"""

from __future__ import annotations

from typing import Any

TARGET = "e"


def count_target(prompts: list[Any], completions: list[str]) -> list[float]:
    return [float(text.count(TARGET)) for text in completions]


def raises(prompts: list[Any], completions: list[str]) -> list[float]:
    raise RuntimeError("the grader crashed")


def too_few(prompts: list[Any], completions: list[str]) -> list[float]:
    return [1.0] * (len(completions) - 1)


def not_numbers(prompts: list[Any], completions: list[str]) -> list[Any]:
    return ["high"] * len(completions)
