"""One tokenization of a pair, the way TRL's DPO trainer builds its inputs, batched.

The filter's token checks, ``prefdata train``'s pre-flight and ``prefdata preflight``
all count tokens here, so one pair has one count everywhere. The rules follow TRL
1.16's ``DPOTrainer._prepare_dataset`` (read from its source, and checked against it by
``tests/test_preflight_trl.py``):

* text pairs: EOS is appended to each response that does not already end with it, then
  ``prompt``, ``prompt + chosen`` and ``prompt + rejected`` are tokenized with the
  tokenizer's own special tokens (``tokenizer(text=...)``);
* conversational pairs: the prompt is rendered with the chat template and the generation
  prompt, the whole conversations without it (``apply_chat_template(tokenize=True)``);
* the completion starts where the prompt's tokens and each full sequence's tokens
  diverge (the shorter of the two common prefixes), not after the prompt's tokens: a
  BPE merge across the boundary or a template that renders the prompt differently
  alone moves the boundary.

Each column is tokenized in one batch call, which the fast tokenizer spreads over its
Rust threads. Most of ``tokenizer(texts)``'s time is transformers wrapping each
encoding in Python, so where the tokenizer's class keeps transformers' own call path
(:func:`backend_of`) prefdata calls the Rust tokenizer directly, set up as that call sets
it up; the ids are the same (``tests/test_tokenization_backend.py``). Chat templates
are rendered to strings once and those encoded without special tokens, which is what
``apply_chat_template(tokenize=True)`` does inside. Only local tokenizer folders are
read (``local_files_only``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from prefdata.errors import ConfigError, require

if TYPE_CHECKING:
    from prefdata.checks.base import PairView
    from prefdata.config import FilterConfig

Ids = list[int]


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
    # Counting tokens of pairs longer than the model's own limit is the point here, so
    # transformers' "sequence length is longer than the specified maximum" line is noise
    # in prefdata's output: mark it as already given (the flag transformers itself sets).
    warned = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tokenizer


# transformers' own path from ``tokenizer(texts)`` and ``apply_chat_template`` to the Rust
# encoder (transformers 5: tokenization_utils_base and _tokenizers): a class that
# overrides any of them may encode differently, so it keeps its own call
_CALL_PATH = (
    "__call__",
    "encode",
    "_encode_plus",
    "_get_padding_truncation_strategies",
    "set_truncation_and_padding",
    "apply_chat_template",
)


def backend_of(tokenizer: Any) -> Any:
    """The Rust tokenizer to encode with directly, or None: use transformers' call."""
    try:
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # transformers 4: PreTrainedTokenizerFast, another call path
        return None
    cls = type(tokenizer)
    if not isinstance(tokenizer, TokenizersBackend) or hasattr(tokenizer, "_switch_to_input_mode"):
        return None
    if any(getattr(cls, m, None) is not getattr(TokenizersBackend, m) for m in _CALL_PATH):
        return None
    backend = getattr(tokenizer, "_tokenizer", None)
    return backend if hasattr(backend, "encode_batch_fast") else None


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while millions of token-id lists are built.

    Each new list counts towards the next collection and every full one walks all of
    them, so the collector came to take as long as transformers' own wrapping (100k
    pairs in a fresh process: 14.3 s with it, 12.5 s without). Lists of ints hold no
    reference cycles, so nothing is left for it to free; it runs again on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def encode_texts(
    tokenizer: Any, texts: list[str], *, add_special_tokens: bool = True, distinct: bool = False
) -> list[Ids]:
    """``tokenizer(texts, add_special_tokens=...)["input_ids"]``, without its Python wrapping.

    ``distinct``: tokenize each distinct text once (a prompt shared by several pairs);
    equal texts get equal ids anyway, and the rows that share one share its list.
    """
    if not texts:
        return []
    if distinct:
        unique = list(dict.fromkeys(texts))
        if len(unique) < len(texts):
            ids = encode_texts(tokenizer, unique, add_special_tokens=add_special_tokens)
            by_text = dict(zip(unique, ids, strict=True))
            return [by_text[t] for t in texts]
    backend = backend_of(tokenizer)
    if backend is None:
        out = tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
        return [list(x) for x in out]
    # what transformers' call sets on the backend before it encodes (_encode_plus): no
    # truncation or padding (a tokenizer.json may carry either), its split_special_tokens
    if backend.truncation is not None:
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    split = bool(getattr(tokenizer, "split_special_tokens", False))
    if backend.encode_special_tokens != split:
        backend.encode_special_tokens = split
    # encode_batch_fast: encode_batch without character offsets, which nothing here reads
    encodings = backend.encode_batch_fast(texts, add_special_tokens=add_special_tokens)
    return [e.ids for e in encodings]


def encode_chats(
    tokenizer: Any, conversations: list[Any], *, distinct: bool = False, **template: Any
) -> list[Ids]:
    """``apply_chat_template(conversations, tokenize=True)``'s input ids, batched
    (``distinct``: each distinct rendered text tokenized once)."""
    if not conversations:
        return []
    if backend_of(tokenizer) is None:
        out = tokenizer.apply_chat_template(
            conversations, tokenize=True, return_dict=True, **template
        )
        return [list(x) for x in out["input_ids"]]
    # apply_chat_template(tokenize=True) renders, then calls the tokenizer on the rendered
    # strings with add_special_tokens=False (the template writes its own BOS)
    rendered = tokenizer.apply_chat_template(conversations, tokenize=False, **template)
    return encode_texts(tokenizer, rendered, add_special_tokens=False, distinct=distinct)


def common_prefix(a: Ids, b: Ids) -> int:
    """Leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:  # the usual case, at C speed
        return n
    i = 0
    while a[i] == b[i]:
        i += 1
    return i


@dataclass
class PairTokens:
    """Token ids of a batch of pairs as TRL trains on them.

    ``with_chosen``/``with_rejected`` are the whole sequences (prompt + response, EOS
    included for text); the trainer's prompt is their first ``boundary`` tokens.
    """

    prompt: list[Ids]  # the prompt tokenized alone (with the generation prompt)
    with_chosen: list[Ids]
    with_rejected: list[Ids]
    boundary: np.ndarray  # TRL's prompt length: where prompt and prompt + response diverge

    @staticmethod
    def lengths(ids: list[Ids]) -> np.ndarray:
        return np.fromiter((len(x) for x in ids), np.int64, len(ids))

    @property
    def prompt_is_prefix(self) -> np.ndarray:
        """The prompt's own tokens start both full sequences (no boundary shift)."""
        return self.boundary == self.lengths(self.prompt)

    @property
    def chosen_tokens(self) -> np.ndarray:
        """Tokens of the chosen completion (TRL's ``chosen_ids``)."""
        return self.lengths(self.with_chosen) - self.boundary

    @property
    def rejected_tokens(self) -> np.ndarray:
        return self.lengths(self.with_rejected) - self.boundary


def _with_eos(responses: list[str], eos: str) -> list[str]:
    return [r if r.endswith(eos) else r + eos for r in responses]


def encode_pairs(
    tokenizer: Any, prompts: list[Any], chosen: list[Any], rejected: list[Any]
) -> PairTokens:
    """Tokenize a batch of explicit-prompt pairs as TRL 1.16's DPO trainer does.

    The shape is the first prompt's (a string: text; a list of messages: a
    conversation), as TRL decides it once per dataset.
    """
    if not prompts:
        return PairTokens([], [], [], np.zeros(0, np.int64))
    with no_cycle_collection():
        return _encode_pairs(tokenizer, prompts, chosen, rejected)


def _encode_pairs(
    tokenizer: Any, prompts: list[Any], chosen: list[Any], rejected: list[Any]
) -> PairTokens:
    if isinstance(prompts[0], str):
        eos = tokenizer.eos_token
        if eos is None:
            raise ConfigError("the tokenizer has no EOS token: set eos_token in its folder")
        chosen, rejected = _with_eos(chosen, eos), _with_eos(rejected, eos)
        texts = [
            prompts,
            [p + c for p, c in zip(prompts, chosen, strict=True)],
            [p + r for p, r in zip(prompts, rejected, strict=True)],
        ]
        # several pairs often share a prompt (one per response pairing): tokenize it once
        ids = [encode_texts(tokenizer, prompts, distinct=True)]
        ids += [encode_texts(tokenizer, t) for t in texts[1:]]
    else:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                "the data is conversational but the tokenizer has no chat template: "
                "use a chat model's tokenizer, or set chat_template in tokenizer_config.json"
            )
        prompts = [list(p) for p in prompts]
        convs = [
            [p + list(c) for p, c in zip(prompts, chosen, strict=True)],
            [p + list(r) for p, r in zip(prompts, rejected, strict=True)],
        ]
        ids = [
            encode_chats(tokenizer, prompts, distinct=True, add_generation_prompt=True),
            encode_chats(tokenizer, convs[0]),
            encode_chats(tokenizer, convs[1]),
        ]
    boundary = np.fromiter(
        (
            min(common_prefix(p, c), common_prefix(p, r))
            for p, c, r in zip(ids[0], ids[1], ids[2], strict=True)
        ),
        np.int64,
        len(prompts),
    )
    return PairTokens(ids[0], ids[1], ids[2], boundary)


def pair_tokens(view: PairView, config: FilterConfig) -> PairTokens:
    """Token ids for a batch, computed once per batch and shared by the checks that need them."""
    cached = view.shared.get("tokens")
    if cached is not None:
        return cached
    assert config.tokenizer is not None
    tokenizer = load_tokenizer(config.tokenizer)
    batch = view.batch
    prompts = batch.column("prompt")
    if prompts.null_count and prompts.type == "string":
        prompts = prompts.fill_null("")
    # the raw columns, not the view's final texts: the trainer sees whole conversations
    tokens = encode_pairs(
        tokenizer,
        prompts.to_pylist(),
        batch.column("chosen").to_pylist(),
        batch.column("rejected").to_pylist(),
    )
    view.shared["tokens"] = tokens
    return tokens
