"""prefdata encodes with the Rust tokenizer directly (no transformers wrapping per text):
the ids must be exactly transformers' own, for plain text, chat templates (Llama-3 style
with a BOS post-processor, ChatML, a ``<think>`` generation prompt), whatever truncation,
padding or split_special_tokens state the tokenizer is in, and a tokenizer class that
changes transformers' call path must keep its own call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from prefdata.tokenization import backend_of, encode_chats, encode_pairs, encode_texts
from tests.test_preflight_trl import CHATML, LLAMA3, THINK, _tokenizer

TEXTS = [
    "hello world,\n",
    "",
    " ",
    "Preheat the ov",
    "en and roast.<|eot_id|>",  # a special token written in the text
    "<|im_start|>user\nhi<|im_end|>",
    "naïve café — 東京 🙂\t\ttabs  and  spaces\n\n",
    "the quick brown fox jumps over the lazy dog " * 30,
]


def _m(role: str, text: str) -> dict[str, str]:
    return {"role": role, "content": text}


CHATS = [
    [_m("user", "hello world")],
    [_m("system", "be brief"), _m("user", "how are you today?")],
    [_m("user", "hi"), _m("assistant", "hello"), _m("user", "the quick brown fox")],
    [_m("user", "hi"), _m("assistant", "<think>\nshort\n</think>\n\nfine")],
    [_m("user", "  padded  "), _m("assistant", "naïve café 🙂<|im_end|>")],
]


@pytest.fixture(scope="module", params=["llama3", "chatml", "think"])
def tokenizer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    template, bos, eos = {
        "llama3": (LLAMA3, True, "<|eot_id|>"),
        "chatml": (CHATML, False, "<|im_end|>"),
        "think": (THINK, False, "<|im_end|>"),
    }[request.param]
    folder = _tokenizer(tmp_path_factory.mktemp(request.param), template, bos=bos, eos=eos)
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _reference(tokenizer: Any, texts: list[str], **kw: Any) -> list[list[int]]:
    return [list(x) for x in tokenizer(texts, **kw)["input_ids"]]


def test_the_backend_path_is_taken_and_equals_transformers(tokenizer: Any) -> None:
    assert backend_of(tokenizer) is not None  # else this test would compare a path with itself
    for special in (True, False):
        assert encode_texts(tokenizer, TEXTS, add_special_tokens=special) == _reference(
            tokenizer, TEXTS, add_special_tokens=special
        )
    for gen in (True, False):
        expected = tokenizer.apply_chat_template(
            CHATS, tokenize=True, return_dict=True, add_generation_prompt=gen
        )["input_ids"]
        assert encode_chats(tokenizer, CHATS, add_generation_prompt=gen) == expected


def test_encode_pairs_equals_trls_own_calls(tokenizer: Any) -> None:
    """The three sequences per pair, as TRL 1.16's tokenize_fn builds them one by one."""
    eos = tokenizer.eos_token
    prompts, chosen, rejected = TEXTS[:4], TEXTS[4:], TEXTS[3:7]
    got = encode_pairs(tokenizer, prompts, chosen, rejected)
    for i, p in enumerate(prompts):
        c = chosen[i] if chosen[i].endswith(eos) else chosen[i] + eos
        r = rejected[i] if rejected[i].endswith(eos) else rejected[i] + eos
        assert got.prompt[i] == tokenizer(text=p)["input_ids"]
        assert got.with_chosen[i] == tokenizer(text=p + c)["input_ids"]
        assert got.with_rejected[i] == tokenizer(text=p + r)["input_ids"]
    chat_p = [c[:1] for c in CHATS]
    chat_c = [[_m("assistant", "fine")]] * len(CHATS)
    got = encode_pairs(tokenizer, chat_p, chat_c, chat_c)
    for i, turns in enumerate(chat_p):
        alone = tokenizer.apply_chat_template(turns, tokenize=True, add_generation_prompt=True)
        whole = tokenizer.apply_chat_template(turns + chat_c[i], tokenize=True)
        assert got.prompt[i] == list(alone["input_ids"])
        assert got.with_chosen[i] == got.with_rejected[i] == list(whole["input_ids"])


def test_backend_state_is_set_as_transformers_sets_it(tokenizer: Any) -> None:
    """A tokenizer.json may carry truncation or padding; transformers' call turns both off
    and applies split_special_tokens; the direct path must too."""
    expected = _reference(tokenizer, TEXTS)
    backend = tokenizer.backend_tokenizer
    backend.enable_truncation(3)
    backend.enable_padding(length=200, pad_id=0)
    assert encode_texts(tokenizer, TEXTS) == expected
    tokenizer.split_special_tokens = True
    try:
        split = _reference(tokenizer, TEXTS)
        assert split != expected  # the texts hold special tokens: the setting matters here
        backend.encode_special_tokens = False
        assert encode_texts(tokenizer, TEXTS) == split
    finally:
        tokenizer.split_special_tokens = False
    assert encode_texts(tokenizer, TEXTS) == expected
    assert encode_texts(tokenizer, []) == [] and encode_chats(tokenizer, []) == []


def test_a_class_that_changes_the_call_keeps_its_own(tiny_tokenizer: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    class Tagged(PreTrainedTokenizerFast):
        def _encode_plus(self, *args: Any, **kwargs: Any) -> Any:
            out = super()._encode_plus(*args, **kwargs)
            out["input_ids"] = [[*ids, 0] for ids in out["input_ids"]]
            return out

    tagged = Tagged.from_pretrained(str(tiny_tokenizer), local_files_only=True)
    assert backend_of(tagged) is None
    assert encode_texts(tagged, ["hello world"])[0][-1] == 0
    plain = PreTrainedTokenizerFast.from_pretrained(str(tiny_tokenizer), local_files_only=True)
    assert backend_of(plain) is not None
    assert encode_texts(plain, ["hello world"])[0][-1] != 0


def test_a_shared_prompt_is_tokenized_once_with_the_same_ids(tokenizer: Any) -> None:
    prompts = ["hello world,\n", "Preheat the ov", "hello world,\n", "hello world,\n"]
    responses = ["fine", "en and roast.", "go away", "fine"]
    got = encode_pairs(tokenizer, prompts, responses, responses[::-1])
    assert got.prompt == [tokenizer(text=p)["input_ids"] for p in prompts]
    assert got.prompt[0] is got.prompt[2]  # one tokenization, shared by its pairs
    assert encode_texts(tokenizer, prompts, distinct=True) == encode_texts(tokenizer, prompts)
    chats = [[_m("user", p)] for p in prompts]
    expected = tokenizer.apply_chat_template(
        chats, tokenize=True, return_dict=True, add_generation_prompt=True
    )["input_ids"]
    assert encode_chats(tokenizer, chats, distinct=True, add_generation_prompt=True) == expected


def test_the_cycle_collector_is_paused_only_while_encoding(tokenizer: Any) -> None:
    import gc

    from prefdata.tokenization import no_cycle_collection

    assert gc.isenabled()
    seen = []
    with no_cycle_collection():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError), no_cycle_collection():
        raise ValueError("an encoding error")
    assert gc.isenabled()  # restored on the way out of an error too
    gc.disable()
    try:  # a caller that had it off keeps it off
        with no_cycle_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    encode_pairs(tokenizer, ["hello "], ["world"], ["fox"])
    assert gc.isenabled()
