"""OpenAI preference fine-tuning JSONL: ``input.messages``, ``preferred_output`` and
``non_preferred_output`` (each a list holding one assistant message)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata import reasons
from prefdata.readers.layouts.base import BadRecord, Layout, LayoutSpec, Triple, messages, require


class OpenAI(LayoutSpec):
    name = "openai"
    summary = "input {messages}, preferred_output, non_preferred_output (OpenAI preference JSONL)"
    keys = ("input", "preferred_output", "non_preferred_output")

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        given, preferred, other = require(record, *self.keys)
        if not isinstance(given, Mapping) or "messages" not in given:
            raise BadRecord(reasons.WRONG_TYPE, "input is not an object with messages")
        prompt = messages(given["messages"], "input.messages")
        return (
            prompt,
            messages(preferred, "preferred_output"),
            messages(other, "non_preferred_output"),
        )
