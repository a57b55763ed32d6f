"""Text <-> conversational forms of one pair (TRL's explicit-prompt forms).

An HH-style transcript (``\\n\\nHuman: ...\\n\\nAssistant:``) becomes a message list and
back. A text prompt with no HH markers is one user message. A conversation becomes
text as its single user message when that is all it holds, else as an HH transcript
ending in ``\\n\\nAssistant:`` (responses then start with a space, HH's own convention).
"""

from __future__ import annotations

import re
from typing import Any

from prefdata.readers.layouts import HH_ASSISTANT, HH_HUMAN

Messages = list[dict[str, str]]
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}
_MARKERS = {"user": HH_HUMAN, "assistant": HH_ASSISTANT, "system": "\n\nSystem:"}


def text_to_messages(prompt: str) -> Messages:
    """An HH transcript prompt as messages; plain text as one user message."""
    parts = _TURN.split(prompt)
    if len(parts) == 1:
        return [{"role": "user", "content": prompt}]
    messages = [{"role": "system", "content": parts[0].strip()}] if parts[0].strip() else []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        if content.strip() or role == "Human":  # the trailing "Assistant:" is the cue
            messages.append({"role": _ROLES[role], "content": content.strip()})
    return messages


def messages_to_text(prompt: Messages) -> tuple[str, bool]:
    """(text prompt, whether it is an HH transcript whose responses need a leading space)."""
    if len(prompt) == 1 and prompt[0].get("role") == "user":
        return prompt[0].get("content", ""), False
    turns = "".join(
        f"{_MARKERS.get(m.get('role', ''), HH_HUMAN)} {m.get('content', '')}" for m in prompt
    )
    return turns + HH_ASSISTANT, True


def response_text(value: Any) -> str:
    """A response as text: the string, or the last message's content."""
    if isinstance(value, list):
        return str(value[-1].get("content", "")) if value else ""
    return "" if value is None else str(value)


def to_shape(row: dict[str, Any], shape: str) -> dict[str, Any]:
    """A canonical pair row in the ``text`` or ``conversational`` form; other columns kept."""
    prompt = row["prompt"]
    out = dict(row)
    if shape == "conversational":
        out["prompt"] = prompt if isinstance(prompt, list) else text_to_messages(prompt)
        for key in ("chosen", "rejected"):
            out[key] = (
                row[key]
                if isinstance(row[key], list)
                else [{"role": "assistant", "content": row[key]}]
            )
        return out
    if isinstance(prompt, list):
        out["prompt"], spaced = messages_to_text(prompt)
    else:
        spaced = False
    for key in ("chosen", "rejected"):
        text = response_text(row[key])
        out[key] = " " + text if spaced and text else text
    return out
