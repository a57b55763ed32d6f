"""Pre-flight is faithful to TRL by test: TRL 1.16's own dataset preparation and collator
run on the same pairs and tokenizer, and every per-pair count and decision must match.

Three chat templates are built offline: Llama-3-style (BOS written by the template, a
BOS post-processor for text), Qwen-style ChatML, and a Qwen3-like one whose generation
prompt carries an empty ``<think>`` block the rendered conversation does not.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

pytest.importorskip("trl")

from prefdata.preflight import codes, preflight
from prefdata.tokenization import load_tokenizer

LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3-like: the generation prompt opens an empty thought block; an assistant turn in
# the conversation is rendered without one (its thoughts stripped)
THINK = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{{ m['content'].split('</think>')[-1].lstrip('\n') }}"
    "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n\n</think>\n\n{% endif %}"
)
SPECIALS = [
    "<unk>",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
]
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world, how are you today? I am fine, thank you.",
    "Preheat the oven and roast the vegetables for twenty minutes.",
    "Human: name a colour. Assistant: Blue is a colour.",
] * 40


def _tokenizer(folder: Path, template: str, *, bos: bool, eos: str) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    if bos:  # Llama 3 adds <|begin_of_text|> to every plain-text encode
        bos_id = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos_id)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<|begin_of_text|>", eos_token=eos
    )
    fast.chat_template = template
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("templates")
    return {
        "llama3": load_tokenizer(str(_tokenizer(root / "l", LLAMA3, bos=True, eos="<|eot_id|>"))),
        "chatml": load_tokenizer(str(_tokenizer(root / "c", CHATML, bos=False, eos="<|im_end|>"))),
        "think": load_tokenizer(str(_tokenizer(root / "t", THINK, bos=False, eos="<|im_end|>"))),
    }


def _m(role: str, text: str) -> dict[str, str]:
    return {"role": role, "content": text}


LONG = "the quick brown fox jumps over the lazy dog " * 6
# Each known failure has a pair here (the comment names it).
TEXT_EXPLICIT: dict[str, list[Any]] = {
    "id": ["plain", "merge", "long_prompt", "cut_alike", "eos_cut", "has_eos"],
    "prompt": [
        "hello world,\n",
        "Preheat the ov",  # a BPE merge across the prompt/response boundary
        LONG * 3,  # TRL drops it silently when the prompt fills max_length
        "hello ",
        "roast ",
        "hello ",
    ],
    "chosen": [
        "how are you today?",
        "en and roast.",
        "blue",
        LONG + "and the end is good",  # differs only past the cut: identical after truncation
        LONG,  # cut: loses its EOS while the short rejected keeps one
        "fine<|eot_id|>",
    ],
    "rejected": ["go away", "en now", "green", LONG + "and the end is bad", "no", "bad"],
}
TEXT_IMPLICIT: dict[str, list[Any]] = {
    "id": ["mid_word", "space", "one_is_prefix"],
    # TRL splits at the first differing character: "Bl|ue" vs "Bl|ack" ends the prompt mid-word
    "chosen": [
        "Human: name a colour. Assistant: Blue",
        "Human: hello Assistant: the fox",
        "Human: hi Assistant: yes",
    ],
    "rejected": [
        "Human: name a colour. Assistant: Black",
        "Human: hello Assistant: a dog",
        "Human: hi Assistant: yes, sure",
    ],
}
CHAT_EXPLICIT: dict[str, list[Any]] = {
    "id": ["one_turn", "system", "long", "multi_turn"],
    "prompt": [
        [_m("user", "hello world")],
        [_m("system", "be brief"), _m("user", "how are you today?")],
        [_m("user", LONG * 3)],
        [_m("user", "hi"), _m("assistant", "hello"), _m("user", "the quick brown fox")],
    ],
    "chosen": [
        [_m("assistant", "I am fine, thank you.")],
        [_m("assistant", "<think>\nshort\n</think>\n\nfine")],
        [_m("assistant", "blue")],
        [_m("assistant", LONG + "end")],
    ],
    "rejected": [
        [_m("assistant", "go away")],
        [_m("assistant", "I am fine, thank you. How are you today?")],
        [_m("assistant", "green")],
        [_m("assistant", LONG + "fin")],
    ],
}
_USER = [_m("user", "hi"), _m("assistant", "hello"), _m("user", "the quick brown fox")]
CHAT_IMPLICIT: dict[str, list[Any]] = {
    "id": ["last_turn", "shared_answer"],
    "chosen": [[*_USER, _m("assistant", "jumps")], [*_USER, _m("assistant", "jumps")]],
    # the second pair's rejected repeats the chosen answer then goes on: TRL's
    # extract_prompt keeps the shared last turn out of the prompt
    "rejected": [
        [*_USER, _m("assistant", "sleeps")],
        [*_USER, _m("assistant", "jumps"), _m("user", "and?")],
    ],
}


def _trl_reference(
    rows: list[dict[str, Any]], tokenizer: Any, max_length: int | None, mode: str
) -> dict[str, dict[str, Any]]:
    """TRL's own _prepare_dataset and DataCollatorForPreference, per pair id."""
    import warnings

    from datasets import Dataset
    from trl import DPOConfig
    from trl.trainer.dpo_trainer import DataCollatorForPreference, DPOTrainer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = DPOConfig(
            output_dir="unused",
            max_length=max_length,
            truncation_mode=mode,
            report_to=[],
            bf16=False,
            use_cpu=True,
        )
    trainer: Any = SimpleNamespace(_tokenizer=tokenizer)  # all _prepare_dataset reads of self
    prepared = DPOTrainer._prepare_dataset(
        trainer, Dataset.from_list(rows), tokenizer, args, "train"
    )
    collator = DataCollatorForPreference(
        pad_token_id=tokenizer.eos_token_id, max_length=max_length, truncation_mode=mode
    )
    out = {}
    for example in prepared:
        batch = collator([example])
        attention, completion, ids = (
            batch["attention_mask"],
            batch["completion_mask"],
            batch["input_ids"],
        )
        seqs = [ids[k][attention[k].bool()].tolist() for k in (0, 1)]
        out[example["id"]] = {
            "prompt_tokens": len(example["prompt_ids"]),
            "chosen_tokens": len(example["chosen_ids"]),
            "rejected_tokens": len(example["rejected_ids"]),
            "chosen_kept_tokens": int(attention[0].sum()),
            "rejected_kept_tokens": int(attention[1].sum()),
            "chosen_completion_kept": int(completion[0].sum()),
            "rejected_completion_kept": int(completion[1].sum()),
            "differ_after_truncation": seqs[0] != seqs[1],
            "chosen_ends_with_eos": seqs[0][-1] == tokenizer.eos_token_id,
            "rejected_ends_with_eos": seqs[1][-1] == tokenizer.eos_token_id,
        }
    return out


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


CASES: dict[str, dict[str, list[Any]]] = {
    "text_explicit": TEXT_EXPLICIT,
    "text_implicit": TEXT_IMPLICIT,
    "chat_explicit": CHAT_EXPLICIT,
    "chat_implicit": CHAT_IMPLICIT,
}


@pytest.mark.parametrize("template", ["llama3", "chatml", "think"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("setting", [(None, "keep_start"), (24, "keep_start"), (40, "keep_end")])
def test_counts_and_decisions_equal_trls(
    tokenizers: dict[str, Any], template: str, case: str, setting: tuple[int | None, str]
) -> None:
    tokenizer = tokenizers[template]
    max_length, mode = setting
    rows = _rows(CASES[case])
    expected = _trl_reference(rows, tokenizer, max_length, mode)
    result = preflight(
        pa.Table.from_pylist(rows), tokenizer, max_length=max_length, truncation_mode=mode
    )
    got = result.per_pair.to_pylist()
    assert {r["id"] for r in got if r["kept"]} == set(expected)
    for row in got:
        if row["kept"]:
            assert {k: row[k] for k in expected[row["id"]]} == expected[row["id"]], row["id"]
        else:
            assert row["drop_reason"] == codes.PROMPT_FILLS_MAX_LENGTH
    assert result.ledger["rows_in"] == result.ledger["kept"] + result.ledger["dropped"]
    assert result.ledger["kept"] == len(expected)


def _reasons(
    tokenizer: Any, columns: dict[str, list[Any]], **settings: Any
) -> dict[str, list[str]]:
    per_pair = preflight(pa.Table.from_pylist(_rows(columns)), tokenizer, **settings).per_pair
    return dict(
        zip(per_pair.column("id").to_pylist(), per_pair.column("reasons").to_pylist(), strict=True)
    )


def test_known_failures_are_reported(tokenizers: dict[str, Any]) -> None:
    chatml = tokenizers["chatml"]
    text = _reasons(chatml, TEXT_EXPLICIT, max_length=24)
    assert text["long_prompt"] == [codes.PROMPT_FILLS_MAX_LENGTH]
    assert codes.IDENTICAL_AFTER_TRUNCATION in text["cut_alike"]
    assert {codes.RESPONSE_TRUNCATED, codes.EOS_MISMATCH} <= set(text["eos_cut"])
    assert codes.PROMPT_BOUNDARY_MERGE in text["merge"]
    assert text["plain"] == []
    implicit = _reasons(chatml, TEXT_IMPLICIT, max_length=None)
    assert codes.PROMPT_EXTRACTION_DIFFERS in implicit["mid_word"]
    # a pair where one side extends the other: TRL leaves the last shared character out
    assert codes.PROMPT_EXTRACTION_DIFFERS in implicit["one_is_prefix"]
    assert codes.PROMPT_EXTRACTION_DIFFERS not in implicit["space"]
    chat = _reasons(chatml, CHAT_IMPLICIT, max_length=None)
    assert chat == {"last_turn": [], "shared_answer": [codes.PROMPT_EXTRACTION_DIFFERS]}
    # the <think> template renders the prompt alone differently: every pair is flagged
    think = _reasons(tokenizers["think"], CHAT_EXPLICIT, max_length=None)
    assert all(codes.PROMPT_BOUNDARY_MERGE in r for r in think.values())
    plain = _reasons(chatml, CHAT_EXPLICIT, max_length=None)
    assert not any(codes.PROMPT_BOUNDARY_MERGE in r for r in plain.values())
