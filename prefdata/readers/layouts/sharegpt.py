"""LLaMA-Factory's ShareGPT preference layout: ``conversations`` (``{from, value}`` turns),
``chosen`` and ``rejected`` (one ``{from, value}`` turn each), optional ``system``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.readers.layouts.base import (
    BadRecord,
    Layout,
    LayoutSpec,
    Triple,
    assistant,
    content_text,
    require,
)
from prefdata.readers.layouts.trl import check_columns, column_keys
from prefdata.schema import ID

# LLaMA-Factory's ShareGPT roles mapped onto chat-template roles.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    "function_call": "assistant",
}


class ShareGPT(LayoutSpec):
    name = "sharegpt"
    summary = "conversations [{from, value}], chosen {from, value}, rejected, system (optional)"
    keys = ("conversations", "chosen", "rejected")

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        keys = column_keys(options, "conversations")
        check_columns(record, keys, source)
        id_key = options.id_column or ID
        return Layout(
            name=self.name,
            shape="conversational",
            id_key=id_key,
            explicit_prompt=True,
            consumed=frozenset({*keys.values(), id_key, "system"}),
            spec=self,
            options=options,
            prompt_key=keys["prompt_key"],
            chosen_key=keys["chosen_key"],
            rejected_key=keys["rejected_key"],
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        turns, chosen, rejected = require(
            record, layout.prompt_key, layout.chosen_key, layout.rejected_key
        )
        if not isinstance(turns, list) or not all(isinstance(t, Mapping) for t in turns):
            raise BadRecord(
                reasons.WRONG_TYPE, f"{layout.prompt_key} is not a list of {{from, value}}"
            )
        prompt = [
            {
                "role": SHAREGPT_ROLES.get(str(t.get("from")), str(t.get("from"))),
                "content": content_text(t.get("value"), f"{layout.prompt_key}[{i}]"),
            }
            for i, t in enumerate(turns)
        ]
        system = record.get("system")
        if isinstance(system, str) and system:
            prompt.insert(0, {"role": "system", "content": system})
        responses = []
        for key, value in ((layout.chosen_key, chosen), (layout.rejected_key, rejected)):
            turn = value.get("value") if isinstance(value, Mapping) else value
            responses.append(assistant(content_text(turn, key)))
        return prompt, responses[0], responses[1]
