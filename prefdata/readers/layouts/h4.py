"""HuggingFaceH4/ultrafeedback_binarized style: ``prompt`` is a string, ``chosen`` and
``rejected`` are whole conversations that start with that prompt as the user turn.

The prompt becomes the messages both conversations share (checked against the string);
``chosen`` and ``rejected`` become only the final assistant turn, as TRL expects. When
the lists hold only the assistant's answer, the prompt string is the user turn.
"""

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
    messages,
    require,
    shared_prefix,
    text,
)


class H4(LayoutSpec):
    name = "h4"
    summary = "prompt (text), chosen and rejected: whole conversations starting with the prompt"
    keys = ("prompt", "chosen", "rejected")

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return (
            options.prompt_column is None
            and isinstance(record.get("prompt"), str)
            and isinstance(record.get("chosen"), list)
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        prompt_text, chosen, rejected = require(record, "prompt", "chosen", "rejected")
        prompt_text = text(prompt_text, "prompt")
        chosen, rejected = messages(chosen, "chosen"), messages(rejected, "rejected")
        n = shared_prefix(chosen, rejected)
        # the responses are the last turn: anything else the two sides do not share is a
        # different conversation, not a preference between two answers
        if n != len(chosen) - 1 or n != len(rejected) - 1:
            raise BadRecord(
                reasons.MALFORMED_RECORD,
                f"chosen and rejected differ before their last message ({n} shared of "
                f"{len(chosen)} and {len(rejected)})",
            )
        if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
            raise BadRecord(reasons.MALFORMED_RECORD, "the last message is not the assistant's")
        if n == 0:  # responses only: the prompt string is the user turn they answer
            return [{"role": "user", "content": prompt_text}], chosen, rejected
        users = [m["content"] for m in chosen[:n] if m["role"] == "user"]
        if not users or prompt_text.strip() not in (users[0].strip(), users[-1].strip()):
            raise BadRecord(reasons.MALFORMED_RECORD, "prompt is not the conversation's user turn")
        return chosen[:n], chosen[n:], rejected[n:]
