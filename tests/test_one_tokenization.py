"""``filter --max-length`` and ``train``'s pre-flight count every pair's tokens alike.

Before the shared tokenization, the filter tokenized text pairs without the EOS TRL
appends, so ``filter --max-length 15`` passed a pair that ``train`` reported as 16
tokens and truncated.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from prefdata import reasons
from prefdata.chunks import run_checks
from prefdata.config import FilterConfig
from prefdata.schema import MESSAGES
from prefdata.tokenization import load_tokenizer
from prefdata.train.data import Pairs
from prefdata.train.preflight import check_lengths

pytest.importorskip("transformers")

LOOSE = {"min_chosen_chars": 0, "min_rejected_chars": 0, "max_similarity": 1.0}

TEXT = {
    "prompt": ["the quick brown fox\n", "hello world, how", "Preheat the oven", "roast "],
    "chosen": [" jumps over the lazy dog", " are you today?", " and roast.", "the fox"],
    "rejected": [" sleeps", " are you?</s>", " and wait for twenty minutes", "the dog jumps"],
}


def _msgs(role: str, text: str) -> list[dict[str, str]]:
    return [{"role": role, "content": text}]


CHAT = {
    "prompt": [
        _msgs("user", "hello world"),
        _msgs("system", "be brief") + _msgs("user", "how are you today?"),
        _msgs("user", "the quick brown fox"),
    ],
    "chosen": [
        _msgs("assistant", "I am fine, thank you."),
        _msgs("assistant", "fine"),
        _msgs("assistant", "jumps over the lazy dog"),
    ],
    "rejected": [
        _msgs("assistant", "go away"),
        _msgs("assistant", "I am fine, thank you. How are you today?"),
        _msgs("assistant", "sleeps"),
    ],
}


def _table(columns: dict[str, list], conversational: bool) -> pa.Table:
    t = MESSAGES if conversational else pa.string()
    n = len(columns["prompt"])
    fields = {k: pa.array(v, t) for k, v in columns.items()}
    return pa.table({"id": [str(i) for i in range(n)], **fields})


def _filter_flags(table: pa.Table, tokenizer: Path, max_length: int) -> list[set[str]]:
    config = FilterConfig(tokenizer=str(tokenizer), max_length=max_length, **LOOSE)
    codes, matrix, _ = run_checks(table.to_batches()[0], config)
    return [{c for c, on in zip(codes, row, strict=True) if on} for row in matrix]


@pytest.mark.parametrize("conversational", [False, True], ids=["text", "conversational"])
def test_filter_and_train_count_the_same_tokens(tiny_tokenizer: Path, conversational: bool) -> None:
    table = _table(CHAT if conversational else TEXT, conversational)
    tokenizer = load_tokenizer(str(tiny_tokenizer))
    shape = "conversational" if conversational else "text"
    for i in range(table.num_rows):
        one = table.slice(i, 1)
        stats = check_lengths(Pairs(one, shape), tokenizer, None, name="train")
        longest, prompt = stats["max_pair_tokens"], stats["max_prompt_tokens"]
        # the filter truncates exactly where train's count says the pair ends
        assert reasons.RESPONSE_TRUNCATED in _filter_flags(one, tiny_tokenizer, longest - 1)[0]
        assert reasons.RESPONSE_TRUNCATED not in _filter_flags(one, tiny_tokenizer, longest)[0]
        # and drops at the same prompt length train warns about
        assert reasons.PROMPT_TOO_LONG in _filter_flags(one, tiny_tokenizer, prompt)[0]
        assert reasons.PROMPT_TOO_LONG not in _filter_flags(one, tiny_tokenizer, prompt + 1)[0]
    # over the whole batch, at a limit that cuts some pairs: the same counts
    full = check_lengths(Pairs(table, shape), tokenizer, None, name="train")
    limit = full["max_pair_tokens"] - 1
    stats = check_lengths(Pairs(table, shape), tokenizer, limit, name="train")
    flags = _filter_flags(table, tiny_tokenizer, limit)
    filled = sum(reasons.PROMPT_TOO_LONG in f for f in flags)
    over = sum(reasons.RESPONSE_TRUNCATED in f and reasons.PROMPT_TOO_LONG not in f for f in flags)
    assert (stats["prompt_fills_max_length"], stats["truncated_by_max_length"]) == (filled, over)
    assert over > 0


def test_text_counts_include_the_eos_trl_appends(tiny_tokenizer: Path) -> None:
    # the reported case: the pair's text is 15 tokens, TRL trains on 16 (EOS appended)
    tokenizer = load_tokenizer(str(tiny_tokenizer))
    table = _table({k: v[:1] for k, v in TEXT.items()}, False)
    texts = [TEXT["prompt"][0] + TEXT[side][0] for side in ("chosen", "rejected")]
    without_eos = max(len(tokenizer(t)["input_ids"]) for t in texts)
    with_eos = max(len(tokenizer(t + tokenizer.eos_token)["input_ids"]) for t in texts)
    assert with_eos == without_eos + 1
    flags = _filter_flags(table, tiny_tokenizer, without_eos)[0]
    assert reasons.RESPONSE_TRUNCATED in flags  # it was passed before
    assert reasons.RESPONSE_TRUNCATED not in _filter_flags(table, tiny_tokenizer, with_eos)[0]


@pytest.mark.parametrize("conversational", [False, True], ids=["text", "conversational"])
def test_preflight_decides_as_the_filter_flags(tiny_tokenizer: Path, conversational: bool) -> None:
    from prefdata.preflight import codes, preflight

    table = _table(CHAT if conversational else TEXT, conversational)
    tokenizer = load_tokenizer(str(tiny_tokenizer))
    seen = {"dropped": 0, "cut": 0, "whole": 0}
    for limit in range(2, 80, 6):
        flags = _filter_flags(table, tiny_tokenizer, limit)
        per_pair = preflight(table, tokenizer, max_length=limit).per_pair.to_pylist()
        for row, flagged in zip(per_pair, flags, strict=True):
            assert (not row["kept"]) == (reasons.PROMPT_TOO_LONG in flagged)
            cut = row["kept"] and codes.RESPONSE_TRUNCATED in row["reasons"]
            assert cut == (
                reasons.RESPONSE_TRUNCATED in flagged and reasons.PROMPT_TOO_LONG not in flagged
            )
            seen["dropped" if not row["kept"] else "cut" if cut else "whole"] += 1
    assert min(seen.values()) > 0, seen  # every outcome was compared


def test_counting_past_the_models_limit_prints_no_transformers_warning(
    tiny_tokenizer: Path,
) -> None:
    """Pre-flight counts pairs longer than the model's limit on purpose: transformers'
    'longer than the specified maximum' line would only be noise in its output."""
    import logging

    from transformers.utils import logging as hf_logging

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    library = hf_logging.get_logger("transformers")
    library.addHandler(handler)
    try:
        tokenizer = load_tokenizer.__wrapped__(str(tiny_tokenizer))  # fresh, uncached
        tokenizer.model_max_length = 8
        tokenizer(["word " * 50])
        tokenizer("word " * 50)
    finally:
        library.removeHandler(handler)
    assert not [r for r in records if "longer than the specified maximum" in r], records
