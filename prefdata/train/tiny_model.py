"""Build a small Llama-style model and a BPE tokenizer from a data file, fully offline.

Meant for demos and tests: the model is randomly initialised, the tokenizer is trained
on the pairs' own text, and the chat template renders a prompt with
``add_generation_prompt=True`` as an exact string prefix of prompt + response, which is
what TRL's conversational tokenisation relies on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefdata.errors import ConfigError, require
from prefdata.train.data import load_pairs

EOS, PAD, BOS = "<|end|>", "<|pad|>", "<|bos|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")

# Each message is "<|role|>\n content <|end|>\n"; the generation prompt is the opening of
# an assistant message, so rendering the prompt alone is a prefix of prompt + response.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def _texts(rows: list[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        for key in ("prompt", "chosen", "rejected"):
            value = row[key]
            if isinstance(value, str):
                yield value
            else:
                for message in value or []:
                    yield message.get("content") or ""


def make_tiny_model(
    data: str | Path,
    out: str | Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised tiny causal LM and its tokenizer to ``out``.

    >>> make_tiny_model("out/curated/kept.parquet", "out/tiny")  # doctest: +SKIP
    """
    if hidden_size % num_heads:
        raise ConfigError(
            f"hidden_size must be a multiple of num_heads, got {hidden_size} and {num_heads}"
        )
    # byte-level BPE starts from 256 byte symbols; below that nothing is learned
    if vocab_size < 300:
        raise ConfigError(f"vocab_size must be >= 300, got {vocab_size}")
    tokenizers = require("tokenizers", "train")  # a transformers dependency
    transformers = require("transformers", "train")
    torch = require("torch", "train")

    pairs = load_pairs(data)
    specials = [PAD, EOS, BOS, *ROLE_TOKENS]
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token=None))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_texts(pairs.table.to_pylist()), trainer=trainer)

    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=EOS,
        pad_token=PAD,
        bos_token=BOS,
        additional_special_tokens=list(ROLE_TOKENS),
        padding_side="left",
        model_max_length=max_positions,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = transformers.LlamaForCausalLM(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
