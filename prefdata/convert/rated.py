"""Multi-completion rated data (UltraFeedback style) binarised into preference pairs.

A record has a prompt and several completions with scores, either as
``completions: [{response|text|content, overall_score|score|rating}]`` (UltraFeedback),
as parallel lists ``responses`` + ``scores``, or as Nectar's ranked
``answers: [{answer, model, rank}]`` (rank 1 is best; kept as ``rank_chosen`` and
``rank_rejected``). ``best_worst`` pairs the top-scored
completion with the lowest; ``best_random`` with a random strictly lower one (seeded),
as in the Zephyr recipe. Records whose scores are all equal have no preference and are
skipped as ``tied_scores``; the scores are kept as ``score_chosen``/``score_rejected``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Literal

Pairing = Literal["best_worst", "best_random"]
PROMPT_KEYS = ("prompt", "instruction", "question")
TEXT_KEYS = ("response", "text", "content", "completion")
SCORE_KEYS = ("overall_score", "score", "rating")


def is_ranked(record: Any) -> bool:
    """Nectar style: ``answers`` with a ``rank`` each (lower is better)."""
    answers = record.get("answers") if isinstance(record, Mapping) else None
    return (
        isinstance(answers, list)
        and bool(answers)
        and isinstance(answers[0], Mapping)
        and "rank" in answers[0]
    )


def is_rated(record: Any) -> bool:
    return isinstance(record, Mapping) and (
        isinstance(record.get("completions"), list)
        or (isinstance(record.get("responses"), list) and isinstance(record.get("scores"), list))
        or is_ranked(record)
    )


def _first(record: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if record.get(k) is not None), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def scored_completions(record: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(text, score) of each usable completion of a record."""
    if is_ranked(record):
        # a rank is a score with the sign turned: sorting stays "higher is better"
        items = [
            (a.get("answer"), -a["rank"] if _is_number(a.get("rank")) else None)
            for a in record["answers"]
            if isinstance(a, Mapping)
        ]
    elif isinstance(record.get("completions"), list):
        items = [
            (_first(c, TEXT_KEYS), _first(c, SCORE_KEYS))
            for c in record["completions"]
            if isinstance(c, Mapping)
        ]
    else:
        items = list(zip(record.get("responses") or [], record.get("scores") or [], strict=False))
    out = []
    for text, score in items:
        if isinstance(text, str) and isinstance(score, int | float) and not isinstance(score, bool):
            out.append((text, float(score)))
    return out


def binarize(
    records: Iterator[Any],
    *,
    pairing: Pairing = "best_worst",
    seed: int = 0,
    skipped: Counter[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """One text pair per rated record; ``skipped`` counts the records that gave none."""
    rng = random.Random(seed)
    skipped = skipped if skipped is not None else Counter()
    for record in records:
        prompt = _first(record, PROMPT_KEYS) if isinstance(record, Mapping) else None
        scored = scored_completions(record) if isinstance(record, Mapping) else []
        if not isinstance(prompt, str):
            skipped["missing_prompt"] += 1
            continue
        if len(scored) < 2:
            skipped["fewer_than_two_completions"] += 1
            continue
        # stable sort: among equal top scores the first listed wins, reproducibly
        ranked = sorted(scored, key=lambda item: -item[1])
        best = ranked[0]
        lower = [c for c in ranked if c[1] < best[1]]
        if not lower:
            skipped["tied_scores"] += 1
            continue
        worst = lower[-1] if pairing == "best_worst" else rng.choice(lower)
        extra = {
            k: v
            for k, v in record.items()
            if k not in (*PROMPT_KEYS, "completions", "responses", "scores", "answers")
        }
        scores = (
            {"rank_chosen": -best[1], "rank_rejected": -worst[1]}
            if is_ranked(record)
            else {"score_chosen": best[1], "score_rejected": worst[1]}
        )
        yield {**extra, "prompt": prompt, "chosen": best[0], "rejected": worst[0], **scores}
