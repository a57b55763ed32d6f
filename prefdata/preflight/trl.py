"""What TRL 1.16's DPO trainer builds from each pair, without running it.

The rules, read from ``trl/trainer/dpo_trainer.py`` (``_prepare_dataset`` and
``DataCollatorForPreference``) and ``trl/data_utils.py`` (``extract_prompt``), and held
to TRL's own code by ``tests/test_preflight_trl.py``:

1. no ``prompt`` column: ``extract_prompt`` splits chosen/rejected at their first
   differing character (or message), stepping back over one space;
2. tokenization as in :mod:`prefdata.tokenization` (EOS, chat template, boundary);
3. ``keep_start``: a pair whose prompt (up to the boundary) has ``max_length`` tokens
   or more is dropped; the collator keeps each sequence's first ``max_length`` tokens;
4. ``keep_end`` (deprecated in 1.16): nothing is dropped; each sequence keeps its last
   ``max_length`` tokens, eating the prompt first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from prefdata.preflight import codes
from prefdata.tokenization import PairTokens, encode_pairs

TRUNCATION_MODES = ("keep_start", "keep_end")


def extract_prompt(chosen: Any, rejected: Any) -> tuple[Any, Any, Any] | None:
    """TRL's ``extract_prompt``, quirks included; None where TRL would raise."""
    n = min(len(chosen), len(rejected))
    if n == 0:
        return None  # TRL's loop never binds its index: UnboundLocalError
    idx = 0
    for idx in range(n):  # TRL reads the index after the loop
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":  # TRL: "remove space before the prompt"
                idx -= 1
            break
    # without a break TRL's index stops at n - 1: the last shared item stays in the responses
    return chosen[:idx], chosen[idx:], rejected[idx:]


def shared_prefix(chosen: Any, rejected: Any) -> Any:
    """The prompt a person would name: whole shared turns, or shared text up to a space."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if isinstance(chosen, str):
        while n > 0 and not chosen[n - 1].isspace():
            n -= 1
    return chosen[:n]


def _implicit(chosen: list[Any], rejected: list[Any]) -> tuple[list[Any], ...]:
    prompts, new_c, new_r, differs, ok = [], [], [], [], []
    for c, r in zip(chosen, rejected, strict=True):
        split = extract_prompt(c, r)
        ok.append(split is not None)
        p, c2, r2 = split if split is not None else (c[:0], c, r)
        prompts.append(p)
        new_c.append(c2)
        new_r.append(r2)
        true = shared_prefix(c, r)
        if isinstance(p, str):  # a space either side of the cut is still a word boundary
            p, true = p.rstrip(" "), true.rstrip(" ")
        differs.append(split is not None and p != true)
    return prompts, new_c, new_r, differs, ok


def _ends_with(
    ids: list[list[int]], cut: np.ndarray, keep_end: bool, eos: int | None
) -> np.ndarray:
    if eos is None:
        return np.zeros(len(ids), bool)
    # keep_end keeps each sequence's last token; keep_start keeps its token at cut - 1
    last = [
        (s[-1] if keep_end or len(s) <= k else s[k - 1]) if s else None
        for s, k in zip(ids, cut, strict=True)
    ]
    return np.array([x == eos for x in last], bool) if last else np.zeros(0, bool)


def _same_after_cut(tokens: PairTokens, limit: int | None, keep_end: bool) -> np.ndarray:
    pairs = zip(tokens.with_chosen, tokens.with_rejected, strict=True)
    if limit is None:
        return np.array([c == r for c, r in pairs], bool)
    if keep_end:
        return np.array([c[-limit:] == r[-limit:] for c, r in pairs], bool)
    return np.array([c[:limit] == r[:limit] for c, r in pairs], bool)


def plan(
    table: pa.Table,
    tokenizer: Any,
    *,
    max_length: int | None = 1024,
    truncation_mode: str = "keep_start",
) -> pa.Table:
    """One row per input pair: what TRL will train on (see the module docstring)."""
    n = table.num_rows
    chosen, rejected = table.column("chosen").to_pylist(), table.column("rejected").to_pylist()
    if "prompt" in table.column_names:
        prompts = table.column("prompt").to_pylist()
        extract_differs, extractable = [False] * n, [True] * n
    else:
        prompts, chosen, rejected, extract_differs, extractable = _implicit(chosen, rejected)
    tokens = encode_pairs(tokenizer, prompts, chosen, rejected)
    prompt = tokens.boundary
    seq_c, seq_r = tokens.lengths(tokens.with_chosen), tokens.lengths(tokens.with_rejected)
    keep_end = truncation_mode == "keep_end"
    limit = (
        max_length
        if max_length is not None
        else int(max(seq_c.max(initial=0), seq_r.max(initial=0)))
    )
    kept_c, kept_r = np.minimum(seq_c, limit), np.minimum(seq_r, limit)
    if keep_end:  # the cut eats the prompt first
        comp_c = np.minimum(seq_c - prompt, kept_c)
        comp_r = np.minimum(seq_r - prompt, kept_r)
        dropped_fill = np.zeros(n, bool)
    else:
        comp_c = np.maximum(kept_c - prompt, 0)
        comp_r = np.maximum(kept_r - prompt, 0)
        dropped_fill = (prompt >= limit) if max_length is not None else np.zeros(n, bool)
    not_extractable = ~np.array(extractable, bool)
    kept = ~(dropped_fill | not_extractable)
    eos = tokenizer.eos_token_id
    ends_c = _ends_with(tokens.with_chosen, kept_c, keep_end, eos)
    ends_r = _ends_with(tokens.with_rejected, kept_r, keep_end, eos)
    same = _same_after_cut(tokens, max_length, keep_end)
    identical_before = np.array(
        [c == r for c, r in zip(tokens.with_chosen, tokens.with_rejected, strict=True)], bool
    )
    flags = {
        codes.PROMPT_NOT_EXTRACTABLE: not_extractable,
        codes.PROMPT_FILLS_MAX_LENGTH: dropped_fill & ~not_extractable,
        codes.RESPONSE_TRUNCATED: kept & ((seq_c > limit) | (seq_r > limit)),
        codes.IDENTICAL_AFTER_TRUNCATION: kept & same & ~identical_before,
        codes.EOS_MISMATCH: kept & (ends_c != ends_r),
        codes.PROMPT_BOUNDARY_MERGE: ~tokens.prompt_is_prefix & ~not_extractable,
        codes.PROMPT_EXTRACTION_DIFFERS: np.array(extract_differs, bool),
    }
    reasons, drop_reason = codes.columns(flags, n)
    ids = table.column("id") if "id" in table.column_names else pa.array(map(str, range(n)))
    return pa.table(
        {
            "id": ids,
            "row": np.arange(n, dtype=np.int64),  # input order: ids repeat on duplicate pairs
            "kept": kept,
            "drop_reason": drop_reason,
            "reasons": reasons,
            "prompt_tokens": prompt,
            "prompt_alone_tokens": tokens.lengths(tokens.prompt),
            "chosen_tokens": seq_c - prompt,
            "rejected_tokens": seq_r - prompt,
            "chosen_sequence_tokens": seq_c,
            "rejected_sequence_tokens": seq_r,
            "chosen_kept_tokens": np.where(kept, kept_c, 0),
            "rejected_kept_tokens": np.where(kept, kept_r, 0),
            "chosen_completion_kept": np.where(kept, comp_c, 0),
            "rejected_completion_kept": np.where(kept, comp_r, 0),
            "chosen_tokens_lost": np.where(kept, seq_c - kept_c, seq_c),
            "rejected_tokens_lost": np.where(kept, seq_r - kept_r, seq_r),
            "differ_after_truncation": ~same,
            "chosen_ends_with_eos": ends_c,
            "rejected_ends_with_eos": ends_r,
            "prompt_is_prefix": tokens.prompt_is_prefix,
            "prompt_extraction_differs": np.array(extract_differs, bool),
        }
    )
