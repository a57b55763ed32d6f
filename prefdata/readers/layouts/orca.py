"""Intel orca_dpo_pairs style: ``system`` (optional), ``question``, ``chosen``, ``rejected``
as text, and ``history`` turns as in the alpaca layout (optional). Read as a conversation
so the system prompt is kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata.config import ReadOptions
from prefdata.readers.layouts.alpaca import system_and_history
from prefdata.readers.layouts.base import Layout, LayoutSpec, Triple, assistant, require, text


class Orca(LayoutSpec):
    name = "orca"
    summary = "system (optional), question, chosen, rejected: text"
    keys = ("question", "chosen", "rejected")
    optional = ("system", "history")  # both read by system_and_history

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return super().detect(record, options) and isinstance(record.get("chosen"), str)

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        question, chosen, rejected = require(record, "question", "chosen", "rejected")
        prompt = [
            *system_and_history(record),
            {"role": "user", "content": text(question, "question")},
        ]
        return prompt, assistant(text(chosen, "chosen")), assistant(text(rejected, "rejected"))
