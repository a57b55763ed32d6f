"""make-tiny-model: an offline model whose chat template keeps the prompt a prefix."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError
from prefdata.train.preflight import load_tokenizer
from prefdata.train.tiny_model import make_tiny_model
from tests.train_support import tiny

__all__ = ["tiny"]

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
MESSAGE = st.builds(lambda role, content: {"role": role, "content": content},
                    st.sampled_from(["system", "user", "assistant"]), TEXT)  # fmt: skip


@functools.cache
def cached_tokenizer(path: str):
    return load_tokenizer(path)


@settings(max_examples=40, deadline=None)
@given(prompt=st.lists(MESSAGE, min_size=1, max_size=4), response=TEXT)
def test_prompt_render_is_a_prefix_of_prompt_plus_response(tiny, prompt, response):
    tokenizer = cached_tokenizer(str(tiny["model"]))
    answer = [{"role": "assistant", "content": response}]
    alone = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(prompt + answer, tokenize=False)
    assert full.startswith(alone)
    # and token by token, which is what TRL compares
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)
    full_ids = tokenizer.apply_chat_template(prompt + answer, return_dict=True)
    assert full_ids["input_ids"][: len(ids["input_ids"])] == ids["input_ids"]


def test_model_and_tokenizer_agree(tiny):
    transformers = pytest.importorskip("transformers")
    tokenizer = load_tokenizer(tiny["model"])
    config = transformers.AutoConfig.from_pretrained(tiny["model"])
    assert config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token == "<|pad|>"
    assert config.num_hidden_layers == 2 and config.hidden_size == 64
    # the BPE learned the data's words: a frequent word is a single token
    assert len(tokenizer("apple", add_special_tokens=False)["input_ids"]) == 1


def test_cli_builds_a_model(tiny, tmp_path):
    out = tmp_path / "m"
    args = [
        "make-tiny-model",
        "--data",
        str(tiny["text"]),
        "--out",
        str(out),
        "--hidden-size",
        "32",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()


def test_bad_sizes_are_refused(tiny, tmp_path):
    with pytest.raises(ConfigError, match="multiple of num_heads"):
        make_tiny_model(tiny["text"], tmp_path / "x", hidden_size=30, num_heads=4)
