"""What LLaMA-Factory 0.9.5's pairwise (DPO) preprocessing builds from each pair.

The rules, read from ``llamafactory/data/processor/pairwise.py``, ``template.py``
(``parse_template``, ``Template._encode``) and ``processor_utils.infer_seqlen``, and held
to LLaMA-Factory's own code by fixtures that ``tests/fixtures/llamafactory/record.py``
records from it (``tests/test_preflight_llamafactory.py``):

1. with no ``template`` named, the template is parsed from the tokenizer's chat
   template: a prefix (what ``encode("")`` gives, e.g. BOS) and system, user (with the
   generation prompt) and assistant slots; each piece is tokenized on its own;
2. a pair whose prompt has an even number of turns, or turns out of the user/assistant
   order, is dropped ("Dropped invalid example");
3. ``cutoff_len`` is shared between prompt (source) and the longer response (target) by
   ``infer_seqlen``: the prompt keeps its *start*, each response its first ``target``
   tokens, both responses with the same limit, so only the longer one may be cut.

With ``template`` named (its YAML's ``template: llama3``), the slots are that template's
(:mod:`prefdata.preflight.lf_templates`: ``llama3`` and ``qwen``) and the tokenizer is
fixed as LLaMA-Factory fixes it (its EOS becomes the template's stop word). Reasoning
templates are not modelled: a parsed template whose assistant turn holds ``<think>`` is
refused in one line, and so is a name prefdata does not know.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from prefdata.errors import ConfigError
from prefdata.preflight import codes
from prefdata.preflight.lf_templates import (
    NAMED,
    SLOT,
    NamedEncoder,
    fixed_tokenizer,
    turn_elements,
)
from prefdata.tokenization import backend_of, encode_texts, no_cycle_collection


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's split of ``cutoff_len`` between prompt and response."""
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    new_source_len = min(max(cutoff_len - new_target_len, 0), source_len)
    return new_source_len, new_target_len


def _find_diff(short: str, long: str) -> str:
    i = j = 0
    diff = ""
    while i < len(short) and j < len(long):
        if short[i] == long[j]:
            i += 1
        else:
            diff += long[j]
        j += 1
    return diff


class ParsedTemplate:
    """The slots ``parse_template`` extracts from a tokenizer's chat template."""

    def __init__(self, tokenizer: Any) -> None:
        if not isinstance(getattr(tokenizer, "chat_template", None), str):
            raise ConfigError("LLaMA-Factory pre-flight needs a tokenizer with a chat template")

        def render(messages: list[dict[str, str]], gen: bool) -> str:
            text: str = tokenizer.apply_chat_template(
                messages, add_generation_prompt=gen, tokenize=False
            )
            return text

        self.tokenizer = tokenizer
        prefix = tokenizer.decode(tokenizer.encode(""))
        system = render([{"role": "system", "content": SLOT}], False)[len(prefix) :]
        empty_sys = [{"role": "system", "content": ""}, {"role": "user", "content": SLOT}]
        user_empty_system = render(empty_sys, True)[len(prefix) :]
        user = render([{"role": "user", "content": SLOT}], True)[len(prefix) :]
        turn = [{"role": "user", "content": SLOT}, {"role": "assistant", "content": SLOT}]
        assistant = render(turn, False)[len(prefix) + len(user) :]
        if "<think>" in assistant:
            raise ConfigError(
                "the chat template writes <think> blocks: LLaMA-Factory's reasoning "
                "template is not modelled by prefdata preflight yet"
            )
        default_system = ""
        if len(user) > len(user_empty_system):
            default_system = _find_diff(user_empty_system, user)
            user = user[len(system.replace(SLOT, default_system, 1)) :]
        self.prefix, self.system, self.user, self.assistant = prefix, system, user, assistant
        self.default_system = default_system

    def elements(self, messages: list[dict[str, str]], system: str) -> list[list[str | int]]:
        """Per message, the strings ``Template._encode`` tokenizes one by one, in order."""
        return turn_elements(messages, system or self.default_system, [self.prefix], self)


def encode_elements(tokenizer: Any, groups: list[list[str | int]]) -> list[list[int]]:
    """Each group's strings tokenized on their own (no special tokens) and joined, ids
    kept, as ``Template._convert_elements_to_ids`` does; each distinct string (a system
    prompt, a template's prefix) is tokenized once, all in one batch."""
    texts = list(dict.fromkeys(p for g in groups for p in g if isinstance(p, str) and p))
    if backend_of(tokenizer) is None:  # LLaMA-Factory's own call, one string at a time
        encoded = [list(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    else:
        encoded = encode_texts(tokenizer, texts, add_special_tokens=False)
    ids = dict(zip(texts, encoded, strict=True))
    out = []
    for group in groups:
        seq: list[int] = []
        for part in group:
            if isinstance(part, int):
                seq.append(part)
            elif part:
                seq += ids[part]
        out.append(seq)
    return out


def _split_system(prompt: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    if prompt and prompt[0]["role"] == "system":
        return prompt[0]["content"], prompt[1:]
    return "", prompt


def encoder_for(tokenizer: Any, name: str | None) -> tuple[Any, Any]:
    """(the tokenizer as LLaMA-Factory leaves it, the template encoder) for ``name``
    (None: parsed from the tokenizer's chat template, LLaMA-Factory's ``template: null``)."""
    if name is None:
        return tokenizer, ParsedTemplate(tokenizer)
    if name not in NAMED:
        raise ConfigError(
            f"LLaMA-Factory template {name!r} is not modelled by prefdata preflight; "
            f"known: {sorted(NAMED)}, or leave out --template to parse the tokenizer's own"
        )
    fixed = fixed_tokenizer(tokenizer, NAMED[name])
    return fixed, NamedEncoder(fixed, NAMED[name])


def plan(
    table: pa.Table, tokenizer: Any, *, cutoff_len: int, template_name: str | None = None
) -> pa.Table:
    """One row per pair: what LLaMA-Factory's pairwise preprocessing trains on."""
    tokenizer, template = encoder_for(tokenizer, template_name)
    columns = [table.column(c).to_pylist() for c in ("prompt", "chosen", "rejected")]
    if pa.types.is_string(table.column("chosen").type):
        # text pairs (its Alpaca layout): one user turn, each response an assistant turn
        columns = [
            [[{"role": role, "content": text}] for text in values]
            for role, values in zip(("user", "assistant", "assistant"), columns, strict=True)
        ]
    eos = tokenizer.eos_token_id
    valid, groups = [], []  # per valid pair: the prompt's, chosen's and rejected's parts
    for prompt, chosen, rejected in zip(*columns, strict=True):
        system, turns = _split_system([dict(m) for m in prompt])
        # LLaMA-Factory's converter wants user, assistant, user, ... and an odd count
        roles_ok = all(
            m["role"] == ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(turns)
        )
        valid.append(roles_ok and len(turns) % 2 == 1 and bool(chosen) and bool(rejected))
        if valid[-1]:
            with_chosen = template.elements([*turns, dict(chosen[-1])], system)
            groups.append([p for parts in with_chosen[:-1] for p in parts])
            groups.append(with_chosen[-1])
            groups.append(template.elements([*turns, dict(rejected[-1])], system)[-1])
    with no_cycle_collection():
        encoded = iter(encode_elements(tokenizer, groups))
    out: dict[str, list[Any]] = {k: [] for k in _COLUMNS}
    for ok in valid:
        if not ok:
            _append(out, False, [codes.INVALID_TURNS], 0, 0, 0, 0, 0, 0, False, False, False)
            continue
        p_ids, c_ids, r_ids = next(encoded), next(encoded), next(encoded)
        source, target = infer_seqlen(len(p_ids), max(len(c_ids), len(r_ids)), cutoff_len)
        kc, kr = c_ids[:target], r_ids[:target]
        reasons = []
        if source < len(p_ids):
            reasons.append(codes.PROMPT_TRUNCATED)
        if len(kc) < len(c_ids) or len(kr) < len(r_ids):
            reasons.append(codes.RESPONSE_TRUNCATED)
        if kc == kr and c_ids != r_ids:
            reasons.append(codes.IDENTICAL_AFTER_TRUNCATION)
        ends = (bool(kc) and kc[-1] == eos, bool(kr) and kr[-1] == eos)
        if ends[0] != ends[1]:
            reasons.append(codes.EOS_MISMATCH)
        _append(
            out,
            True,
            reasons,
            len(p_ids),
            len(c_ids),
            len(r_ids),
            source,
            len(kc),
            len(kr),
            kc != kr,
            *ends,
        )
    ids = (
        table.column("id")
        if "id" in table.column_names
        else pa.array(map(str, range(table.num_rows)))
    )
    result = pa.table({"id": ids, "row": np.arange(table.num_rows, dtype=np.int64), **out})
    return _with_totals(result)


def _with_totals(t: pa.Table) -> pa.Table:
    """The columns every trainer's plan shares: sequences before and after, tokens lost."""
    col = {name: t.column(name).to_numpy(zero_copy_only=False) for name in t.column_names}
    kept_prompt = col["prompt_kept_tokens"]
    drop = [None if k else codes.INVALID_TURNS for k in col["kept"]]
    extra: dict[str, Any] = {
        "drop_reason": pa.array(drop, pa.string()),
        "prompt_alone_tokens": col["prompt_tokens"],  # pieces are tokenized apart: no boundary
        "chosen_sequence_tokens": col["prompt_tokens"] + col["chosen_tokens"],
        "rejected_sequence_tokens": col["prompt_tokens"] + col["rejected_tokens"],
        "chosen_kept_tokens": kept_prompt + col["chosen_completion_kept"],
        "rejected_kept_tokens": kept_prompt + col["rejected_completion_kept"],
    }
    extra["chosen_tokens_lost"] = extra["chosen_sequence_tokens"] - extra["chosen_kept_tokens"]
    extra["rejected_tokens_lost"] = (
        extra["rejected_sequence_tokens"] - extra["rejected_kept_tokens"]
    )
    for name, values in extra.items():
        t = t.append_column(name, values if isinstance(values, pa.Array) else pa.array(values))
    return t


_COLUMNS = (
    "kept",
    "reasons",
    "prompt_tokens",
    "chosen_tokens",
    "rejected_tokens",
    "prompt_kept_tokens",
    "chosen_completion_kept",
    "rejected_completion_kept",
    "differ_after_truncation",
    "chosen_ends_with_eos",
    "rejected_ends_with_eos",
)


def _append(out: dict[str, list[Any]], *values: Any) -> None:
    for name, value in zip(_COLUMNS, values, strict=True):
        out[name].append(value)
