"""Chatbot Arena conversations: ``conversation_a``, ``conversation_b`` and ``winner``
(``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``).

The prompt is the messages before the first assistant turn, which both sides must share;
each response is the rest of its conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata import reasons
from prefdata.readers.layouts.base import (
    BadRecord,
    Layout,
    LayoutSpec,
    Triple,
    messages,
    require,
)
from prefdata.readers.layouts.labelled import ordered, winner


def _first_reply(conversation: list[dict[str, str]]) -> int:
    for i, m in enumerate(conversation):
        if m["role"] == "assistant":
            return i
    return len(conversation)


class Arena(LayoutSpec):
    name = "arena"
    summary = "conversation_a, conversation_b, winner (model_a, model_b, tie, tie (bothbad))"
    keys = ("conversation_a", "conversation_b", "winner")

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        conv_a, conv_b, label = require(record, *self.keys)
        won = winner(label, "winner")
        a, b = messages(conv_a, "conversation_a"), messages(conv_b, "conversation_b")
        n = _first_reply(a)
        if n == 0 or n == len(a) or a[:n] != b[:n] or _first_reply(b) != n:
            raise BadRecord(
                reasons.MALFORMED_RECORD,
                "conversation_a and conversation_b do not share the turns before the first reply",
            )
        return ordered(a[:n], a[n:], b[n:], won)
