"""LLaMA-Factory's alpaca preference layout: ``instruction`` + ``input`` is the user turn,
``chosen``/``rejected`` are text, ``system`` and ``history`` ([[user, assistant], ...])
are optional. Read as a conversation so the system prompt and history are kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.readers.layouts.base import (
    BadRecord,
    Layout,
    LayoutSpec,
    Messages,
    Triple,
    assistant,
    require,
    text,
)


def system_and_history(record: Mapping[str, Any], system_key: str = "system") -> Messages:
    """The optional system message and earlier ``[user, assistant]`` turns."""
    out: Messages = []
    system = record.get(system_key)
    if system is not None:
        system = text(system, system_key)
        if system:
            out.append({"role": "system", "content": system})
    history = record.get("history")
    if history is None:
        return out
    if not isinstance(history, list):
        raise BadRecord(reasons.WRONG_TYPE, f"history is {type(history).__name__}, not a list")
    for i, turn in enumerate(history):
        if not (
            isinstance(turn, list | tuple)
            and len(turn) == 2
            and all(isinstance(t, str) for t in turn)
        ):
            raise BadRecord(reasons.WRONG_TYPE, f"history[{i}] is not a [user, assistant] pair")
        out += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
    return out


class Alpaca(LayoutSpec):
    name = "alpaca"
    summary = "instruction, input (optional), chosen, rejected, system and history (optional)"
    keys = ("instruction", "chosen", "rejected")
    optional = ("input", "system", "history")

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return super().detect(record, options) and isinstance(record.get("chosen"), str)

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        instruction, chosen, rejected = require(record, "instruction", "chosen", "rejected")
        user = text(instruction, "instruction")
        extra = record.get("input")
        if extra is not None and text(extra, "input"):
            # LLaMA-Factory's own join: instruction, a newline, then the input
            user = f"{user}\n{extra}"
        prompt = [*system_and_history(record), {"role": "user", "content": user}]
        return prompt, assistant(text(chosen, "chosen")), assistant(text(rejected, "rejected"))
