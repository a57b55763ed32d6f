"""Record layouts: how one input record becomes a canonical (prompt, chosen, rejected).

Each layout turns a record (a dict) into the three fields or raises ``BadRecord`` with
a structural reason code; the keys it consumed are left out of the carried columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.schema import CHOSEN, ID, PROMPT, REJECTED, Shape

HH_ASSISTANT = "\n\nAssistant:"
HH_HUMAN = "\n\nHuman:"

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


class BadRecord(Exception):
    """A record that cannot be turned into a pair; ``reason`` is its reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


Triple = tuple[Any, Any, Any]


def _messages(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(
        isinstance(m, Mapping)
        and isinstance(m.get("role"), str)
        and isinstance(m.get("content"), str)
        for m in value
    ):
        raise BadRecord(reasons.WRONG_TYPE, f"{field} is not a list of {{role, content}} messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _strip_one_space(text: str) -> str:
    return text[1:] if text.startswith(" ") else text


def split_hh(chosen: str, rejected: str) -> Triple:
    """Split HH-RLHF transcripts at the last ``\\n\\nAssistant:`` both sides share.

    The prompt keeps that marker (TRL's explicit-prompt convention); each response is
    the rest with its single leading space removed. Splitting at whole turns, not at the
    longest common prefix of characters, keeps prompts from ending mid-word when both
    responses happen to start alike.

    >>> split_hh("\\n\\nHuman: hi\\n\\nAssistant: Hello!", "\\n\\nHuman: hi\\n\\nAssistant: Go away")
    ('\\n\\nHuman: hi\\n\\nAssistant:', 'Hello!', 'Go away')
    """
    at = chosen.rfind(HH_ASSISTANT)
    while at >= 0:
        end = at + len(HH_ASSISTANT)
        if rejected.startswith(chosen[:end]):
            return chosen[:end], _strip_one_space(chosen[end:]), _strip_one_space(rejected[end:])
        at = chosen.rfind(HH_ASSISTANT, 0, at)
    raise BadRecord(
        reasons.MALFORMED_RECORD, "chosen and rejected share no '\\n\\nAssistant:' turn"
    )


def _split_implicit_text(chosen: str, rejected: str) -> Triple:
    # Shared prefix, cut back to a whitespace boundary so the prompt never ends mid-word.
    n = 0
    limit = min(len(chosen), len(rejected))
    while n < limit and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and not chosen[n - 1].isspace():
        n -= 1
    return chosen[:n], chosen[n:], rejected[n:]


def _split_implicit_messages(chosen: list[Any], rejected: list[Any]) -> Triple:
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    return chosen[:n], chosen[n:], rejected[n:]


@dataclass(frozen=True)
class Layout:
    """A record layout bound to its column names and shape."""

    name: str
    shape: Shape
    prompt_key: str
    chosen_key: str
    rejected_key: str
    id_key: str
    explicit_prompt: bool

    @property
    def consumed(self) -> frozenset[str]:
        keys = {self.chosen_key, self.rejected_key, self.id_key}
        if self.explicit_prompt or self.name == "sharegpt":
            keys.add(self.prompt_key)
        if self.name == "sharegpt":
            keys.add("system")
        return frozenset(keys)

    def pair(self, record: Any) -> Triple:
        """The (prompt, chosen, rejected) of a record, or BadRecord."""
        if not isinstance(record, Mapping):
            raise BadRecord(reasons.MALFORMED_RECORD, "record is not a JSON object")
        chosen, rejected = record.get(self.chosen_key), record.get(self.rejected_key)
        prompt = record.get(self.prompt_key)
        needed = [(self.chosen_key, chosen), (self.rejected_key, rejected)]
        if self.explicit_prompt or self.name == "sharegpt":
            needed.insert(0, (self.prompt_key, prompt))
        missing = [key for key, value in needed if value is None]
        if missing:
            raise BadRecord(reasons.MISSING_FIELD, f"no value for {missing}")
        if self.name == "sharegpt":
            return self._sharegpt(record, prompt, chosen, rejected)
        if self.shape == "conversational":
            chosen = _messages(chosen, self.chosen_key)
            rejected = _messages(rejected, self.rejected_key)
            if self.explicit_prompt:
                return _messages(prompt, self.prompt_key), chosen, rejected
            return _split_implicit_messages(chosen, rejected)
        wrong = [k for k, v in needed if not isinstance(v, str)]
        if wrong or not isinstance(chosen, str) or not isinstance(rejected, str):
            raise BadRecord(reasons.WRONG_TYPE, f"{wrong} must be text")
        if self.name == "hh":
            return split_hh(chosen, rejected)
        if self.explicit_prompt:
            return prompt, chosen, rejected
        return _split_implicit_text(chosen, rejected)

    def _sharegpt(
        self, record: Mapping[str, Any], turns: Any, chosen: Any, rejected: Any
    ) -> Triple:
        if not isinstance(turns, list) or not all(
            isinstance(t, Mapping) and isinstance(t.get("value"), str) for t in turns
        ):
            raise BadRecord(
                reasons.WRONG_TYPE, f"{self.prompt_key} is not a list of {{from, value}}"
            )
        prompt = [
            {
                "role": SHAREGPT_ROLES.get(str(t.get("from")), str(t.get("from"))),
                "content": t["value"],
            }
            for t in turns
        ]
        system = record.get("system")
        if isinstance(system, str) and system:
            prompt.insert(0, {"role": "system", "content": system})
        responses = []
        for key, value in ((self.chosen_key, chosen), (self.rejected_key, rejected)):
            text = value.get("value") if isinstance(value, Mapping) else value
            if not isinstance(text, str):
                raise BadRecord(reasons.WRONG_TYPE, f"{key} is not a {{from, value}} turn or text")
            responses.append([{"role": "assistant", "content": text}])
        return prompt, responses[0], responses[1]


def detect_layout(record: Mapping[str, Any], options: ReadOptions, *, source: str) -> Layout:
    """Choose the layout from the first parseable record (or the one the options force)."""
    keys = list(record)
    name = options.layout
    if name == "auto":
        if "conversations" in record and CHOSEN in record and REJECTED in record:
            name = "sharegpt"
        elif (
            options.prompt_column is None
            and PROMPT not in record
            and isinstance(record.get(options.chosen_column or CHOSEN), str)
            and HH_ASSISTANT in record[options.chosen_column or CHOSEN]
        ):
            name = "hh"
        else:
            name = "trl"
    default_prompt = "conversations" if name == "sharegpt" else PROMPT
    layout_keys = {
        "prompt_key": options.prompt_column or default_prompt,
        "chosen_key": options.chosen_column or CHOSEN,
        "rejected_key": options.rejected_column or REJECTED,
    }
    for flag, key in (
        ("--chosen-column", layout_keys["chosen_key"]),
        ("--rejected-column", layout_keys["rejected_key"]),
    ):
        if key not in record:
            raise InputError(f"no column {key!r} in {source}; found {keys}: pass {flag}")
    if options.prompt_column and options.prompt_column not in record:
        raise InputError(f"no column {options.prompt_column!r} in {source}; found {keys}")
    explicit = name == "trl" and layout_keys["prompt_key"] in record
    chosen = record[layout_keys["chosen_key"]]
    shape: Shape = "conversational" if name == "sharegpt" or isinstance(chosen, list) else "text"
    return Layout(
        name=name,
        shape=shape,
        id_key=options.id_column or ID,
        explicit_prompt=explicit,
        **layout_keys,
    )
