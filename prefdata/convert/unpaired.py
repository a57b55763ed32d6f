"""Paired <-> unpaired (KTO form: prompt, completion, boolean label).

Pairs split into two rows: the chosen completion labelled True, the rejected False.
Back, rows are grouped by prompt and the n-th desirable completion of a prompt is paired
with its n-th undesirable one; completions left without a partner are counted as
``unmatched``. Unpaired input may also be LLaMA-Factory's ``messages`` + ``label`` form,
whose last message is the completion.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def to_unpaired(pairs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for pair in pairs:
        extra = {k: v for k, v in pair.items() if k not in ("prompt", "chosen", "rejected")}
        yield {**extra, "prompt": pair["prompt"], "completion": pair["chosen"], "label": True}
        yield {**extra, "prompt": pair["prompt"], "completion": pair["rejected"], "label": False}


def unpaired_row(record: Any) -> tuple[Any, Any, bool] | None:
    """(prompt, completion, label) of an unpaired record, or None when it is not one."""
    if not isinstance(record, Mapping) or not isinstance(record.get("label"), bool):
        return None
    if "completion" in record and "prompt" in record:
        return record["prompt"], record["completion"], record["label"]
    messages = record.get("messages")
    if isinstance(messages, list) and len(messages) >= 2:
        return messages[:-1], messages[-1:], record["label"]
    return None


def to_paired(
    records: Iterable[Any], skipped: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Pairs from unpaired rows, in the order each prompt first appears."""
    skipped = skipped if skipped is not None else Counter()
    groups: dict[str, tuple[Any, list[Any], list[Any]]] = defaultdict(lambda: (None, [], []))
    for record in records:
        row = unpaired_row(record)
        if row is None:
            skipped["not_unpaired"] += 1
            continue
        prompt, completion, label = row
        key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
        _, good, bad = groups[key]
        groups[key] = (prompt, good, bad)
        (good if label else bad).append(completion)
    for prompt, good, bad in groups.values():
        for chosen, rejected in zip(good, bad, strict=False):
            yield {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        skipped["unmatched"] += abs(len(good) - len(bad))
