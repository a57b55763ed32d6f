"""Tokenizer-aware checks, with a BPE tokenizer trained offline in the test session."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from prefdata import reasons
from prefdata.chunks import run_checks
from prefdata.config import FilterConfig
from prefdata.errors import ConfigError
from prefdata.schema import MESSAGES
from prefdata.tokenization import load_tokenizer
from tests.conftest import train_tiny_tokenizer

LOOSE = {"min_chosen_chars": 0, "min_rejected_chars": 0, "max_similarity": 1.0}


def _codes(batch: pa.RecordBatch, config: FilterConfig) -> list[set[str]]:
    codes, matrix, _ = run_checks(batch, config)
    return [{c for c, on in zip(codes, row, strict=True) if on} for row in matrix]


def _text(prompts: list[str], chosen: list[str], rejected: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "id": [str(i) for i in range(len(prompts))],
            "prompt": prompts,
            "chosen": chosen,
            "rejected": rejected,
        }
    )


def _tokens(tokenizer: Path, text: str) -> int:
    return len(load_tokenizer(str(tokenizer))(text)["input_ids"])


def test_length_limits(tiny_tokenizer: Path) -> None:
    prompt = "the quick brown fox\n"  # a newline ends a pre-token: no merge across it
    p = _tokens(tiny_tokenizer, prompt)
    long_answer = "jumps over the lazy dog " * 10
    batch = _text(
        [prompt, prompt, prompt * 20, prompt],
        ["hello", long_answer + "and the end is good", "a", long_answer + "X"],
        ["world", "short", "b", long_answer + "Y"],
    )
    config = FilterConfig(tokenizer=str(tiny_tokenizer), max_length=p + 20, **LOOSE)
    got = _codes(batch, config)
    assert got[0] == set()
    assert got[1] == {reasons.RESPONSE_TRUNCATED}
    # a prompt that fills the window: not also "identical after truncation" (nothing is left)
    assert got[2] == {reasons.PROMPT_TOO_LONG, reasons.RESPONSE_TRUNCATED}
    # the two long answers differ only past the cut: the same tokens after truncation
    assert got[3] == {reasons.RESPONSE_TRUNCATED, reasons.IDENTICAL_AFTER_TRUNCATION}


def test_prompt_boundary_merge_in_text(tiny_tokenizer: Path) -> None:
    # "hel" + "lo world" merges across the boundary: "hello" is one BPE token
    batch = _text(["say hel", "say hello\n"], ["lo world", "world"], ["p me", "there"])
    got = _codes(batch, FilterConfig(tokenizer=str(tiny_tokenizer), **LOOSE))
    assert reasons.PROMPT_BOUNDARY_MERGE in got[0]
    assert reasons.PROMPT_BOUNDARY_MERGE not in got[1]


def _conversation(prompt: str, chosen: str, rejected: str) -> pa.RecordBatch:
    def turn(role: str, text: str) -> pa.Array:
        return pa.array([[{"role": role, "content": text}]], MESSAGES)

    return pa.RecordBatch.from_pydict(
        {
            "id": ["0"],
            "prompt": turn("user", prompt),
            "chosen": turn("assistant", chosen),
            "rejected": turn("assistant", rejected),
        }
    )


def test_chat_template_boundary(tiny_tokenizer: Path, tmp_path: Path) -> None:
    batch = _conversation("hello world", "the quick brown fox", "the lazy dog")
    good = FilterConfig(tokenizer=str(tiny_tokenizer), **LOOSE)
    assert _codes(batch, good) == [set()]
    # a template whose generation prompt is not how it renders the assistant's turn
    bad_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )
    bad = train_tiny_tokenizer(tmp_path / "bad", bad_template)
    got = _codes(batch, FilterConfig(tokenizer=str(bad), **LOOSE))
    assert got == [{reasons.PROMPT_BOUNDARY_MERGE}]


def test_min_length_in_tokens(tiny_tokenizer: Path) -> None:
    # 60 characters but only a few tokens (words the tokenizer learnt whole)
    chosen = "the quick brown fox jumps over the lazy dog the quick brown "
    batch = _text(["hello\n"], [chosen], ["roast the vegetables for twenty minutes"])
    chars = FilterConfig(min_chosen_chars=50, min_rejected_chars=5, max_similarity=1.0)
    assert _codes(batch, chars) == [set()]
    tokens = FilterConfig(
        tokenizer=str(tiny_tokenizer),
        length_unit="tokens",
        min_chosen_chars=50,
        min_rejected_chars=5,
        max_similarity=1.0,
    )
    assert _codes(batch, tokens) == [{reasons.CHOSEN_TOO_SHORT}]


def test_settings_need_a_local_tokenizer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a tokenizer"):
        FilterConfig(length_unit="tokens")
    with pytest.raises(ConfigError, match="local tokenizer folder"):
        FilterConfig(tokenizer="meta-llama/Llama-3-8B")
    with pytest.raises(ConfigError, match="pass --tokenizer"):
        FilterConfig(max_length=512)
