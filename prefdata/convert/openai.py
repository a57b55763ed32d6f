"""Pairs in OpenAI's preference fine-tuning format, checked against its rules.

Each line is ``{"input": {"messages": [...]}, "preferred_output": [assistant message],
"non_preferred_output": [assistant message]}``. A pair is refused, and counted under the
cause, when the format cannot express it:

* ``unsupported_role``: an input message whose role is not system, developer, user or
  assistant (tool messages need call ids a pair does not carry);
* ``prompt_not_ending_with_user``: the input must end with the user turn being answered;
* ``empty_message``: a message with no text;
* ``response_not_one_assistant_message``: a response of several messages (or none).

Other columns are left out: the format has no place for them.
"""

from __future__ import annotations

from typing import Any

from prefdata.convert.shapes import to_shape

INPUT_ROLES = frozenset({"system", "developer", "user", "assistant"})


def to_openai(row: dict[str, Any]) -> dict[str, Any] | str:
    """The OpenAI preference record of a canonical pair, or the cause it cannot be one."""
    conversational = to_shape(row, "conversational")
    prompt = conversational["prompt"]
    if any(m.get("role") not in INPUT_ROLES for m in prompt):
        return "unsupported_role"
    if not prompt or prompt[-1].get("role") != "user":
        return "prompt_not_ending_with_user"
    outputs = []
    for key in ("chosen", "rejected"):
        messages = conversational[key]
        if len(messages) != 1 or messages[0].get("role") != "assistant":
            return "response_not_one_assistant_message"
        outputs.append([{"role": "assistant", "content": messages[0].get("content")}])
    every = [*prompt, outputs[0][0], outputs[1][0]]
    if any(not isinstance(m.get("content"), str) or not m["content"].strip() for m in every):
        return "empty_message"
    return {
        "input": {"messages": [{"role": m["role"], "content": m["content"]} for m in prompt]},
        "preferred_output": outputs[0],
        "non_preferred_output": outputs[1],
    }
