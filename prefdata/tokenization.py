"""Token counts as a trainer sees them, batch-tokenized with a local fast tokenizer.

TRL's ``max_length`` counts prompt + completion tokens. Text pairs are tokenized as
``prompt`` and ``prompt + response`` (plus the special tokens the tokenizer adds around
a sequence); conversational pairs as the chat template renders them: the prompt with
``add_generation_prompt=True`` and the whole conversation with the response appended.
Only local tokenizer folders are read (``local_files_only``): no hub downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from prefdata.checks.base import PairView
from prefdata.config import FilterConfig
from prefdata.errors import ConfigError, require
from prefdata.schema import CHOSEN, PROMPT, REJECTED


@lru_cache(maxsize=4)
def load_tokenizer(path: str) -> Any:
    """A fast tokenizer from a local folder, loaded once per process."""
    transformers = require("transformers", "tokens")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a tokenizer from {path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"tokenizer {path} is not a fast tokenizer: batch tokenizing needs one "
            "(save it with PreTrainedTokenizerFast)"
        )
    return tokenizer


@dataclass
class PairTokens:
    """Token ids of the prompt alone and of prompt + each response, per row."""

    prompt: list[list[int]]
    with_chosen: list[list[int]]
    with_rejected: list[list[int]]
    special: int  # tokens the tokenizer adds around a text sequence (BOS/EOS), counted in lengths

    def lengths(self, ids: list[list[int]]) -> np.ndarray:
        return np.fromiter((len(x) for x in ids), np.int64, len(ids)) + self.special

    @property
    def chosen_tokens(self) -> np.ndarray:
        """Tokens the chosen response adds to the prompt."""
        return self.lengths(self.with_chosen) - self.lengths(self.prompt)

    @property
    def rejected_tokens(self) -> np.ndarray:
        return self.lengths(self.with_rejected) - self.lengths(self.prompt)


def _rendered(tokenizer: Any, column: pa.Array, responses: pa.Array | None) -> list[str]:
    conversations = column.to_pylist()
    if responses is None:
        return list(
            tokenizer.apply_chat_template(conversations, tokenize=False, add_generation_prompt=True)
        )
    full = [p + r for p, r in zip(conversations, responses.to_pylist(), strict=True)]
    return list(tokenizer.apply_chat_template(full, tokenize=False))


def pair_tokens(view: PairView, config: FilterConfig) -> PairTokens:
    """Token ids for a batch, computed once per batch and shared by the checks that need them."""
    cached = view.shared.get("tokens")
    if cached is not None:
        return cached
    assert config.tokenizer is not None
    tokenizer = load_tokenizer(config.tokenizer)
    batch = view.batch
    if pa.types.is_string(batch.column(PROMPT).type):
        prompts = view.batch.column(PROMPT).fill_null("").to_pylist()
        chosen, rejected = view.chosen.to_pylist(), view.rejected.to_pylist()
        texts = [
            prompts,
            [p + c for p, c in zip(prompts, chosen, strict=True)],
            [p + r for p, r in zip(prompts, rejected, strict=True)],
        ]
        add_special, special = True, 0
    else:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"tokenizer {config.tokenizer} has no chat template, and the data is "
                "conversational: use a chat model's tokenizer"
            )
        texts = [
            _rendered(tokenizer, batch.column(PROMPT), None),
            _rendered(tokenizer, batch.column(PROMPT), batch.column(CHOSEN)),
            _rendered(tokenizer, batch.column(PROMPT), batch.column(REJECTED)),
        ]
        add_special, special = False, 0  # the template writes the special tokens itself
    # one batch call per column: the fast tokenizer splits it over its Rust threads
    ids = [tokenizer(t, add_special_tokens=add_special)["input_ids"] if t else [] for t in texts]
    tokens = PairTokens(ids[0], ids[1], ids[2], special)
    view.shared["tokens"] = tokens
    return tokens
