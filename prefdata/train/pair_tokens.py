"""Tokenise a pair the way TRL's DPOTrainer does, for length checks and evaluation.

Text pairs get EOS appended to each response; conversational pairs are rendered with
the chat template (prompt with the generation prompt). The response starts where the
prompt and prompt + response token sequences diverge, as in TRL.
"""

from __future__ import annotations

from typing import Any

Ids = list[int]


def encode(tokenizer: Any, value: str | list[dict[str, Any]], **template: Any) -> Ids:
    """Token ids of a string, or of messages rendered with the chat template."""
    if isinstance(value, str):
        ids: Ids = tokenizer(text=value)["input_ids"]
        return ids
    out = tokenizer.apply_chat_template(value, tokenize=True, return_dict=True, **template)
    return list(out["input_ids"])


def _common_prefix(a: Ids, b: Ids) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def encode_pair(tokenizer: Any, prompt: Any, chosen: Any, rejected: Any) -> tuple[Ids, Ids, Ids]:
    """(prompt ids, chosen response ids, rejected response ids) as TRL would train on them."""
    if isinstance(prompt, str):
        eos = tokenizer.eos_token or ""
        chosen = chosen if chosen.endswith(eos) else chosen + eos
        rejected = rejected if rejected.endswith(eos) else rejected + eos
        prompt_ids = encode(tokenizer, prompt)
        full_chosen = encode(tokenizer, prompt + chosen)
        full_rejected = encode(tokenizer, prompt + rejected)
    else:
        prompt_ids = encode(tokenizer, list(prompt), add_generation_prompt=True)
        full_chosen = encode(tokenizer, list(prompt) + list(chosen))
        full_rejected = encode(tokenizer, list(prompt) + list(rejected))
    cut = min(_common_prefix(prompt_ids, full_chosen), _common_prefix(prompt_ids, full_rejected))
    return prompt_ids[:cut], full_chosen[cut:], full_rejected[cut:]


def prompt_length(tokenizer: Any, prompt: Any) -> int:
    """Tokens the prompt takes, with the generation prompt for conversations."""
    if isinstance(prompt, str):
        return len(encode(tokenizer, prompt))
    return len(encode(tokenizer, list(prompt), add_generation_prompt=True))
