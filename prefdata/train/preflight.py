"""Checks that run before any model is loaded, so a bad run fails in seconds, not hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from prefdata.errors import InputError, require
from prefdata.schema import PROMPT, REASONS
from prefdata.train.data import Pairs
from prefdata.train.notices import warn
from prefdata.train.pair_tokens import encode, prompt_length

PROMPT_TOO_LONG = "prompt_too_long"  # reason code for pairs dropped by max_prompt_length


def check_model_folder(path: str | Path) -> Path:
    """A local model folder with a config.json; the hub is never asked."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(
            f"model folder not found: {folder} (prefdata trains local models only; "
            "download it first, or build one with `prefdata make-tiny-model`)"
        )
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise InputError(f"{folder} has no config.json: not a Hugging Face model folder")
    return folder


def load_tokenizer(path: str | Path) -> Any:
    """The model folder's tokenizer, read locally."""
    transformers = require("transformers", "train")
    try:
        return transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load a tokenizer from {path}: {exc}") from exc


def check_tokenizer(tokenizer: Any, pairs: Pairs, *, model: str | Path) -> None:
    """EOS and pad tokens, and a chat template when the pairs are conversations."""
    if tokenizer.eos_token is None:
        raise InputError(
            f"the tokenizer in {model} has no EOS token: set eos_token in its tokenizer_config.json"
        )
    if tokenizer.pad_token is None:
        # what TRL does too; said out loud because padding with EOS hides EOS from the loss
        # only when a collator masks pads, which TRL's preference collators do not
        warn(f"the tokenizer in {model} has no pad token: using its EOS {tokenizer.eos_token!r}")
        tokenizer.pad_token = tokenizer.eos_token
    if pairs.shape == "conversational" and not getattr(tokenizer, "chat_template", None):
        raise InputError(
            f"{pairs.path} holds conversations but the tokenizer in {model} has no chat "
            "template: use a chat model's folder, or set chat_template in tokenizer_config.json"
        )


@dataclass
class PromptLimit:
    """Pairs after max_prompt_length, and what happened to the others."""

    pairs: Pairs
    truncated: int = 0
    dropped: pa.Table | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _truncate_text(tokenizer: Any, prompt: str, limit: int) -> str | None:
    ids = encode(tokenizer, prompt)
    cut = len(ids) - limit
    # decoding and re-encoding can re-merge tokens differently; cut a little more if so
    for _ in range(8):
        text: str = tokenizer.decode(ids[cut:], skip_special_tokens=False)
        if prompt_length(tokenizer, text) <= limit:
            return text
        cut += 1
    return None


def _truncate_messages(tokenizer: Any, messages: list[dict[str, Any]], limit: int) -> Any:
    """Drop the oldest turns (a leading system message stays), then cut the oldest left."""
    head = messages[:1] if messages and messages[0].get("role") == "system" else []
    turns = list(messages[len(head) :])
    while len(turns) > 1 and prompt_length(tokenizer, head + turns) > limit:
        turns.pop(0)
    for _ in range(8):
        excess = prompt_length(tokenizer, head + turns) - limit
        if excess <= 0:
            return head + turns
        if not turns:
            return None
        ids = tokenizer(turns[0]["content"] or "", add_special_tokens=False)["input_ids"]
        if excess >= len(ids):
            return None  # the template alone (or the system message) is over the limit
        turns[0] = {**turns[0], "content": tokenizer.decode(ids[excess:])}
    return None


def limit_prompts(
    pairs: Pairs, tokenizer: Any, limit: int | None, mode: str, *, name: str = "train"
) -> PromptLimit:
    """Apply max_prompt_length: cut prompts from the left (keep their end) or drop the pair."""
    if limit is None:
        return PromptLimit(pairs)
    prompts = pairs.table.column(PROMPT).to_pylist()
    new_prompts: list[Any] = []
    keep, drop = [], []
    truncated = 0
    for i, prompt in enumerate(prompts):
        if prompt_length(tokenizer, prompt) <= limit:
            new_prompts.append(prompt)
            keep.append(i)
            continue
        cut = None
        if mode == "truncate_left":
            if isinstance(prompt, str):
                cut = _truncate_text(tokenizer, prompt, limit)
            else:
                cut = _truncate_messages(tokenizer, prompt, limit)
        if cut is None:
            drop.append(i)
        else:
            new_prompts.append(cut)
            keep.append(i)
            truncated += 1
    kept = pairs.table.take(pa.array(keep, pa.int64()))
    column = pa.array(new_prompts, kept.schema.field(PROMPT).type)
    kept = kept.set_column(kept.column_names.index(PROMPT), PROMPT, column)
    dropped = None
    if drop:
        dropped = pairs.table.take(pa.array(drop, pa.int64()))
        dropped = dropped.append_column(
            REASONS, pa.array([[PROMPT_TOO_LONG]] * len(drop), pa.list_(pa.string()))
        )
        warn(f"{len(drop)} {name} pair(s) dropped: prompt over max_prompt_length={limit} tokens")
    if truncated:
        warn(f"{truncated} {name} prompt(s) cut from the left to max_prompt_length={limit} tokens")
    counts = {"truncated": truncated, "dropped": len(drop), "limit": limit}
    return PromptLimit(Pairs(kept, pairs.shape, pairs.path), truncated, dropped, counts)


def check_lengths(
    pairs: Pairs, tokenizer: Any, max_length: int | None, *, name: str
) -> dict[str, Any]:
    """Token-length statistics, warning about pairs TRL would drop or truncate."""
    from prefdata.tokenization import encode_pairs  # the count filter --max-length uses too

    table = pairs.table
    tokens = encode_pairs(
        tokenizer, *(table.column(c).to_pylist() for c in ("prompt", "chosen", "rejected"))
    )
    rows = range(table.num_rows)
    prompt_lens = tokens.boundary.tolist()
    chosen, rejected = map(len, tokens.with_chosen), map(len, tokens.with_rejected)
    longest = [max(c, r) for c, r in zip(chosen, rejected, strict=True)]
    stats: dict[str, Any] = {
        "pairs": len(rows),
        "max_prompt_tokens": max(prompt_lens),
        "max_pair_tokens": max(longest),
        "mean_pair_tokens": round(sum(longest) / len(longest), 1),
    }
    if max_length is None:
        return stats
    filled = sum(p >= max_length for p in prompt_lens)
    over = sum(total > max_length for p, total in zip(prompt_lens, longest, strict=True)) - filled
    stats.update(prompt_fills_max_length=filled, truncated_by_max_length=over)
    if filled:
        warn(
            f"{filled} of {len(rows)} {name} pair(s) have a prompt of >= max_length={max_length} "
            "tokens: TRL drops them (set max_prompt_length or raise max_length)"
        )
    if over:
        warn(
            f"{over} of {len(rows)} {name} pair(s) are longer than max_length={max_length} "
            "tokens: TRL truncates their responses"
        )
    return stats
