"""TRL's own forms: text or conversational, with an explicit ``prompt`` or without.

Without a prompt column the prompt is what both responses share: whole leading messages
for conversations, the common start cut back to whitespace for text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers.layouts.base import (
    BadRecord,
    Columns,
    Layout,
    LayoutSpec,
    Triple,
    messages,
    shared_prefix,
)
from prefdata.readers.messages import message_lists
from prefdata.schema import CHOSEN, ID, PROMPT, REJECTED, Shape

# Columns that usually hold the prompt in other layouts: when the TRL layout would
# derive the prompt from the responses although one of them is there, say so.
LIKELY_PROMPT_COLUMNS = ("question", "instruction", "input", "query", "system", "history")


def split_implicit_text(chosen: str, rejected: str) -> Triple:
    # Shared prefix, cut back to a whitespace boundary so the prompt never ends mid-word.
    n = 0
    limit = min(len(chosen), len(rejected))
    while n < limit and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and not chosen[n - 1].isspace():
        n -= 1
    return chosen[:n], chosen[n:], rejected[n:]


def column_keys(options: ReadOptions, prompt_default: str = PROMPT) -> dict[str, str]:
    return {
        "prompt_key": options.prompt_column or prompt_default,
        "chosen_key": options.chosen_column or CHOSEN,
        "rejected_key": options.rejected_column or REJECTED,
    }


def _not_pairs(record: Mapping[str, Any]) -> str | None:
    """What to do with a record that is not a pair at all, when that can be told."""
    if isinstance(record.get("label"), bool):
        return "it looks unpaired (KTO: a completion and a boolean label): pair it first with `prefdata convert FILE --to paired`"
    if any(k in record for k in ("completions", "answers", "scores", "helpfulness")):
        return "it looks like rated completions: binarise it first with `prefdata convert FILE --to text`"
    return None


def check_columns(record: Mapping[str, Any], keys: dict[str, str], source: str) -> None:
    for flag, key in (
        ("--chosen-column", keys["chosen_key"]),
        ("--rejected-column", keys["rejected_key"]),
    ):
        if key not in record:
            fix = _not_pairs(record) or (
                f"pass {flag}, or a --format (prefdata inspect --formats lists them)"
            )
            raise InputError(f"no column {key!r} in {source}; found {list(record)}: {fix}")


class Trl(LayoutSpec):
    name = "trl"
    summary = "prompt (optional), chosen, rejected: text or {role, content} message lists"
    keys = (CHOSEN, REJECTED)

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        keys = column_keys(options)
        check_columns(record, keys, source)
        if options.prompt_column and options.prompt_column not in record:
            raise InputError(
                f"no column {options.prompt_column!r} in {source}; found {list(record)}"
            )
        explicit = keys["prompt_key"] in record
        shape: Shape = "conversational" if isinstance(record[keys["chosen_key"]], list) else "text"
        id_key = options.id_column or ID
        consumed = {keys["chosen_key"], keys["rejected_key"], id_key}
        if explicit:
            consumed.add(keys["prompt_key"])
        notes: tuple[str, ...] = ()
        unused = [k for k in LIKELY_PROMPT_COLUMNS if isinstance(record.get(k), str)]
        if not explicit and unused:
            notes = (
                f"{source}: no prompt column, so prompts are the responses' shared start, "
                f"but column {unused[0]!r} looks like a prompt: pass --prompt-column "
                f"{unused[0]} or a --format that reads it (see prefdata inspect --formats)",
            )
        return Layout(
            name=self.name,
            shape=shape,
            id_key=id_key,
            explicit_prompt=explicit,
            consumed=frozenset(consumed),
            columnar=shape == "text",
            notes=notes,
            spec=self,
            prompt_key=keys["prompt_key"],
            chosen_key=keys["chosen_key"],
            rejected_key=keys["rejected_key"],
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        chosen, rejected = record.get(layout.chosen_key), record.get(layout.rejected_key)
        prompt = record.get(layout.prompt_key)
        needed = [(layout.chosen_key, chosen), (layout.rejected_key, rejected)]
        if layout.explicit_prompt:
            needed.insert(0, (layout.prompt_key, prompt))
        missing = [key for key, value in needed if value is None]
        if missing:
            raise BadRecord(reasons.MISSING_FIELD, f"no value for {missing}")
        if layout.shape == "conversational":
            chosen = messages(chosen, layout.chosen_key)
            rejected = messages(rejected, layout.rejected_key)
            if layout.explicit_prompt:
                return messages(prompt, layout.prompt_key), chosen, rejected
            n = shared_prefix(chosen, rejected)
            return chosen[:n], chosen[n:], rejected[n:]
        wrong = [k for k, v in needed if not isinstance(v, str)]
        if wrong:
            kinds = [type(v).__name__ for k, v in needed if not isinstance(v, str)]
            raise BadRecord(reasons.WRONG_TYPE, f"{wrong} must be text, got {kinds}")
        if layout.explicit_prompt:
            return prompt, chosen, rejected
        return split_implicit_text(str(chosen), str(rejected))

    def columns(self, layout: Layout, batch: pa.RecordBatch) -> Columns | None:
        # text layouts have their own column path (normalize); implicit prompts need
        # each row's shared prefix
        if layout.shape != "conversational" or not layout.explicit_prompt:
            return None
        out = []
        for key in (layout.prompt_key, layout.chosen_key, layout.rejected_key):
            lists = message_lists(batch.column(key)) if key in batch.schema.names else None
            if lists is None:
                return None
            out.append(lists)
        return out[0], out[1], out[2]
