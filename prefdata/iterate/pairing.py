"""Best and worst of k scored samples become a preference pair (Pang et al. 2024)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from prefdata.iterate.prompts import Prompt
from prefdata.schema import Shape, derive_id, field_type


def samples_table(
    prompts: list[Prompt], completions: list[list[str]], rewards: list[list[float]], *, round: int
) -> pa.Table:
    """Every sample with its reward: one row per (prompt, sample)."""
    rows: dict[str, list[Any]] = {
        "round": [],
        "prompt_index": [],
        "sample_index": [],
        "completion": [],
        "reward": [],
    }
    for p, (texts, scores) in enumerate(zip(completions, rewards, strict=True)):
        for s, (text, score) in enumerate(zip(texts, scores, strict=True)):
            rows["round"].append(round)
            rows["prompt_index"].append(p)
            rows["sample_index"].append(s)
            rows["completion"].append(text)
            rows["reward"].append(score)
    return pa.table(rows)


def best_worst_pairs(
    prompts: list[Prompt],
    completions: list[list[str]],
    rewards: list[list[float]],
    *,
    shape: Shape,
    round: int,
) -> tuple[pa.Table, int]:
    """Canonical pairs (chosen = highest reward, rejected = lowest) and how many prompts
    were left out because all k samples scored the same (a tie says nothing)."""
    kind = field_type(shape)
    rows: dict[str, list[Any]] = {
        "id": [],
        "prompt": [],
        "chosen": [],
        "rejected": [],
        "chosen_reward": [],
        "rejected_reward": [],
        "round": [],
    }
    ties = 0
    for prompt, texts, scores in zip(prompts, completions, rewards, strict=True):
        best = max(range(len(scores)), key=scores.__getitem__)
        worst = min(range(len(scores)), key=scores.__getitem__)
        if scores[best] == scores[worst]:
            ties += 1
            continue
        chosen, rejected = _response(texts[best], shape), _response(texts[worst], shape)
        rows["id"].append(derive_id(prompt, chosen, rejected))
        rows["prompt"].append(prompt)
        rows["chosen"].append(chosen)
        rows["rejected"].append(rejected)
        rows["chosen_reward"].append(scores[best])
        rows["rejected_reward"].append(scores[worst])
        rows["round"].append(round)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("prompt", kind),
            ("chosen", kind),
            ("rejected", kind),
            ("chosen_reward", pa.float64()),
            ("rejected_reward", pa.float64()),
            ("round", pa.int64()),
        ]
    )
    return pa.Table.from_pydict(rows, schema=schema), ties


def _response(text: str, shape: Shape) -> Any:
    return text if shape == "text" else [{"role": "assistant", "content": text}]
