"""LLaMA-Factory 0.9.5's named templates (``template: llama3`` in its YAML), as data.

Copied from ``llamafactory/data/template.py`` (``register_template``) for the most used
non-reasoning ones, and held to LLaMA-Factory's own preprocessing by the fixtures that
``tests/fixtures/llamafactory/record.py`` records with the same names. A named template
also fixes the tokenizer (``Template.fix_special_tokens``): with ``replace_eos`` its
first stop word becomes the EOS token, and the other stop words are added as special
tokens, so the EOS a pair must end with is the template's, not the tokenizer's own.
Reasoning templates (``qwen3``, ``deepseekr1``: ``<think>`` handling) are not modelled.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Protocol

SLOT = "{{content}}"


@dataclass(frozen=True)
class NamedTemplate:
    """The slots of one ``register_template`` call (string formatters only)."""

    user: str
    assistant: str
    system: str
    default_system: str = ""
    bos_prefix: bool = False  # format_prefix=EmptyFormatter(slots=[{"bos_token"}])
    stop_words: tuple[str, ...] = ()
    replace_eos: bool = False


NAMED: dict[str, NamedTemplate] = {
    "llama3": NamedTemplate(
        user="<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        assistant="{{content}}<|eot_id|>",
        system="<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>",
        bos_prefix=True,
        stop_words=("<|eot_id|>", "<|eom_id|>"),
        replace_eos=True,
    ),
    "qwen": NamedTemplate(
        user="<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",
        assistant="{{content}}<|im_end|>\n",
        system="<|im_start|>system\n{{content}}<|im_end|>\n",
        default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        stop_words=("<|im_end|>",),
        replace_eos=True,
    ),
}


def fixed_tokenizer(tokenizer: Any, template: NamedTemplate) -> Any:
    """A copy of ``tokenizer`` with the template's special tokens, as LLaMA-Factory's
    ``fix_special_tokens`` leaves it (the shared, cached tokenizer is not touched)."""
    stop_words = list(template.stop_words)
    if not stop_words and tokenizer.eos_token_id is not None:
        return tokenizer  # nothing to add or replace
    fixed = copy.deepcopy(tokenizer)
    if template.replace_eos and stop_words:
        if fixed.eos_token != stop_words[0]:
            fixed.add_special_tokens({"eos_token": stop_words[0]})
        stop_words = stop_words[1:]
    if fixed.eos_token_id is None:
        fixed.add_special_tokens({"eos_token": "<|endoftext|>"})
    if stop_words:
        # LLaMA-Factory adds them as additional special tokens (a name transformers 5
        # renamed); for encoding that is: each becomes a special added token
        fixed.add_tokens(stop_words, special_tokens=True)
    return fixed


class NamedEncoder:
    """``Template._encode``'s parts for a named template (see ``llamafactory.elements``)."""

    def __init__(self, tokenizer: Any, template: NamedTemplate) -> None:
        self.tokenizer, self.template = tokenizer, template
        self.default_system = template.default_system

    def elements(self, messages: list[dict[str, str]], system: str) -> list[list[str | int]]:
        """Per message, the strings tokenized one by one and the token ids, in order."""
        t, bos = self.template, self.tokenizer.bos_token_id
        head: list[str | int] = [int(bos)] if t.bos_prefix and bos is not None else []
        return turn_elements(messages, system or t.default_system, head, t)


class Slots(Protocol):
    """A template's three string formatters, ``SLOT`` where the content goes."""

    @property
    def system(self) -> str: ...

    @property
    def user(self) -> str: ...

    @property
    def assistant(self) -> str: ...


def turn_elements(
    messages: list[dict[str, str]], system: str, head: list[str | int], slots: Slots
) -> list[list[str | int]]:
    """``Template._encode``'s parts per message, in order: ``head`` (the prefix) and the
    system message before the first, then each message in its role's slot."""
    out = []
    for i, message in enumerate(messages):
        parts: list[str | int] = []
        if i == 0:
            parts.extend(head)
            if system:
                parts.append(slots.system.replace(SLOT, system, 1))
        slot = slots.user if message["role"] == "user" else slots.assistant
        parts.append(slot.replace(SLOT, message["content"], 1))
        out.append(parts)
    return out
