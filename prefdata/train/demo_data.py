"""A learnable synthetic preference set, for demos, tests and benchmarks.

Chosen and rejected repeat the same words from the prompt and differ in one consistent
way (chosen ends politely, rejected rudely), so even a tiny model learns the preference
in a few dozen steps and held-out accuracy says whether training worked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.schema import MESSAGES, Shape, derive_id

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "music",
    "garden",
    "window",
    "paper",
    "silver",
    "forest",
    "candle",
    "bridge",
    "tiger",
    "ocean",
    "pencil",
    "mountain",
    "lemon",
    "rocket",
    "violet",
    "planet",
]


def learnable_pairs(n: int, *, shape: Shape = "text", seed: int = 0) -> pa.Table:
    """``n`` canonical pairs where chosen ends "thank you." and rejected "go away."."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[object]] = {"id": [], "prompt": [], "chosen": [], "rejected": []}
    for _ in range(n):
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
        prompt = f"Repeat: {words}\n"
        chosen, rejected = f"{words}, thank you.", f"{words}, go away."
        if shape == "conversational":
            rows["prompt"].append([{"role": "user", "content": prompt.strip()}])
            rows["chosen"].append([{"role": "assistant", "content": chosen}])
            rows["rejected"].append([{"role": "assistant", "content": rejected}])
        else:
            rows["prompt"].append(prompt)
            rows["chosen"].append(chosen)
            rows["rejected"].append(rejected)
        rows["id"].append(derive_id(prompt, chosen, rejected) + f"-{len(rows['id'])}")
    kind = pa.string() if shape == "text" else MESSAGES
    schema = pa.schema(
        [("id", pa.string()), ("prompt", kind), ("chosen", kind), ("rejected", kind)]
    )
    return pa.Table.from_pydict(rows, schema=schema)


def write_learnable_pairs(
    path: str | Path, n: int, *, shape: Shape = "text", seed: int = 0
) -> Path:
    """Write :func:`learnable_pairs` to a Parquet file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(learnable_pairs(n, shape=shape, seed=seed), path)
    return path
