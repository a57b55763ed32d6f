"""The table across rounds: summary.json and summary.csv, rewritten after every round."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

# columns of summary.csv, in order; summary.json holds the same rows
COLUMNS = (
    "round",
    "prompts",
    "samples",
    "mean_reward",  # the scorer's mean over every sample of the policy entering the round
    "pairs",  # best/worst pairs made (prompts whose k samples all tied are left out)
    "ties",
    "pairs_kept",  # after prefdata's checks
    "mean_margin",  # mean scorer gap chosen - rejected over the kept pairs
    "dpo_margin",  # TRL's last logged rewards/margins of the round's training
    "eval_reward_before",  # with eval_prompts: the model entering the round, held-out prompts
    "eval_reward",  # ... and the model the round trained
    "train_loss",
    "trained",
    "not_trained_reason",  # when trained is false: no pairs kept, no step ran, lr stayed 0
    "model",
    "adapter",  # with LoRA: the round's adapter; `model` is it merged into the round's start
    "duration_s",
)


def write_summary(out_dir: Path, rounds: list[dict[str, Any]]) -> None:
    rows = [{name: row.get(name) for name in COLUMNS} for row in rounds]
    temp = out_dir / ".summary.json.tmp"
    temp.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    temp.replace(out_dir / "summary.json")
    temp = out_dir / ".summary.csv.tmp"
    with temp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    temp.replace(out_dir / "summary.csv")
