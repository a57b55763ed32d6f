"""The ledger: every row in, kept or lost, with the setting that would avoid each loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.preflight import codes

WHOLE_SHARE = 0.99  # the suggested max_length keeps this share of pairs uncut


def _counts(per_pair: pa.Table) -> dict[str, int]:
    flat = pc.list_flatten(per_pair.column("reasons"))
    found = {str(k): int(v) for k, v in zip(*_value_counts(flat), strict=True)}
    return {c: found.get(c, 0) for c in codes.ALL}


def _value_counts(values: pa.Array) -> tuple[list[Any], list[Any]]:
    if len(values) == 0:
        return [], []
    vc = pc.value_counts(values)
    return vc.field("values").to_pylist(), vc.field("counts").to_pylist()


def _ids_with(per_pair: pa.Table, code: str, limit: int) -> list[Any]:
    """The ids of the first ``limit`` pairs whose reasons hold ``code``, in input order."""
    reasons = per_pair.column("reasons").combine_chunks()
    if len(reasons) == 0:
        return []
    hit = pc.list_parent_indices(reasons).filter(pc.equal(pc.list_flatten(reasons), code))
    return per_pair.column("id").take(hit.slice(0, limit)).to_pylist()


def outcome(
    prompt: np.ndarray, seq_c: np.ndarray, seq_r: np.ndarray, limit: int, mode: str
) -> dict[str, int]:
    """Rows kept, dropped and truncated, and tokens lost, at one TRL setting."""
    dropped = (prompt >= limit) if mode == "keep_start" else np.zeros(len(prompt), bool)
    kept = ~dropped
    cut = kept & ((seq_c > limit) | (seq_r > limit))
    lost = np.where(
        kept, np.maximum(seq_c - limit, 0) + np.maximum(seq_r - limit, 0), seq_c + seq_r
    )
    return {
        "kept": int(kept.sum()),
        "dropped": int(dropped.sum()),
        "truncated": int(cut.sum()),
        "tokens_lost": int(lost.sum()),
    }


def suggestions(
    per_pair: pa.Table, settings: dict[str, Any], counts: dict[str, int]
) -> list[dict[str, Any]]:
    """For each kind of loss, the TRL setting that avoids it and the figures it gives."""
    out: list[dict[str, Any]] = []
    n = per_pair.num_rows
    if n == 0:
        return out
    prompt = per_pair.column("prompt_tokens").to_numpy()
    seq_c = per_pair.column("chosen_sequence_tokens").to_numpy()
    seq_r = per_pair.column("rejected_sequence_tokens").to_numpy()
    limit, mode = settings["max_length"], settings["truncation_mode"]
    longest = np.sort(np.maximum(seq_c, seq_r))
    whole = longest[math.ceil(WHOLE_SHARE * n) - 1]  # the smallest limit leaving 99% uncut
    losses = counts[codes.RESPONSE_TRUNCATED] + counts[codes.PROMPT_FILLS_MAX_LENGTH]
    losses += counts[codes.PROMPT_TRUNCATED]
    if limit is not None and losses:
        if whole > limit:
            if settings["trainer"] == "llamafactory":
                kept = per_pair.column("kept").to_numpy(zero_copy_only=False)
                # infer_seqlen cuts nothing when prompt + the longer response fit
                over = kept & (np.maximum(seq_c, seq_r) > whole)
                gives = {"kept": int(kept.sum()), "dropped": int(n - kept.sum())}
                gives["truncated"] = int(over.sum())
            else:
                gives = outcome(prompt, seq_c, seq_r, int(whole), mode)
            out.append(
                {
                    "setting": "cutoff_len"
                    if settings["trainer"] == "llamafactory"
                    else "max_length",
                    "value": int(whole),
                    "why": f"keeps {WHOLE_SHARE:.0%} of pairs whole "
                    f"(longest pair: {int(longest[-1])} tokens)",
                    "gives": gives,
                }
            )
        if mode == "keep_start" and counts[codes.PROMPT_FILLS_MAX_LENGTH]:
            out.append(
                {
                    "setting": "truncation_mode",
                    "value": "keep_end",
                    "why": "keeps the pairs whose prompt fills max_length, cutting their prompt's "
                    "start instead (deprecated in TRL 1.16; raising max_length is the lasting fix)",
                    "gives": outcome(prompt, seq_c, seq_r, limit, "keep_end"),
                }
            )
    merges = counts[codes.PROMPT_BOUNDARY_MERGE]
    if merges:
        shift = per_pair.column("prompt_alone_tokens").to_numpy() - prompt
        out.append(
            {
                "setting": "chat_template" if settings.get("conversational") else "prompt_text",
                "value": "render the prompt alone as the start of the whole conversation"
                if settings.get("conversational")
                else "end prompts on a space or newline",
                "why": f"{merges} pair(s) have a prompt that is not a prefix of prompt + response; "
                f"{int(shift.sum())} prompt token(s) in all move to the completion side",
                "gives": {"prompt_boundary_merge": 0},
            }
        )
    return out


def ledger(per_pair: pa.Table, settings: dict[str, Any]) -> dict[str, Any]:
    """Rows in, kept, dropped (by reason), truncated, tokens lost, and suggested fixes."""
    counts = _counts(per_pair)
    kept = per_pair.column("kept").to_numpy(zero_copy_only=False)
    lost_c = per_pair.column("chosen_tokens_lost").to_numpy()
    lost_r = per_pair.column("rejected_tokens_lost").to_numpy()
    return {
        **settings,
        "rows_in": per_pair.num_rows,
        "kept": int(kept.sum()),
        "dropped": int((~kept).sum()),
        "dropped_by_reason": {c: counts[c] for c in codes.DROPS},
        # pairs the trainer keeps but cuts (either sequence, prompt or response)
        "truncated": int(
            (
                kept
                & (
                    (per_pair.column("chosen_tokens_lost").to_numpy() > 0)
                    | (per_pair.column("rejected_tokens_lost").to_numpy() > 0)
                )
            ).sum()
        ),
        "tokens_lost": {"chosen": int(lost_c.sum()), "rejected": int(lost_r.sum())},
        "identical_after_truncation": counts[codes.IDENTICAL_AFTER_TRUNCATION],
        # the pairs whose only difference is cut away, by id (the first 100; all are in the Parquet)
        "identical_after_truncation_ids": _ids_with(
            per_pair, codes.IDENTICAL_AFTER_TRUNCATION, 100
        ),
        "reasons": counts,
        "suggestions": suggestions(per_pair, settings, counts),
    }
