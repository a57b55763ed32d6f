"""Preference accuracy of a trained model against its reference, per pair and overall.

The implicit reward margin is DPO's: ``beta * [(logp_c - ref_logp_c) - (logp_r - ref_logp_r)]``;
a pair counts as correct when the margin is > 0 (a tie is not a win).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import InputError, require
from prefdata.schema import ID
from prefdata.train.data import load_pairs
from prefdata.train.manifest import read_manifest
from prefdata.train.pair_tokens import encode_pair
from prefdata.train.preflight import check_model_folder, check_tokenizer, load_tokenizer

DEFAULT_BETA = 0.1


@dataclass
class EvalResult:
    """Overall figures and the per-pair table."""

    accuracy: float
    mean_margin: float
    pairs: int
    beta: float
    model: str
    reference: str
    table: pa.Table

    def summary(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "accuracy": round(self.accuracy, 4),
            "mean_margin": round(self.mean_margin, 4),
            "beta": self.beta,
            "model": self.model,
            "reference": self.reference,
        }


def _sequence_logps(model: Any, sequences: list[tuple[list[int], int]], pad_id: int) -> list[float]:
    """Sum of log-probs of each sequence's tokens after its prompt (first ``n`` tokens)."""
    torch = require("torch", "train")
    width = max(len(ids) for ids, _ in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    response = torch.zeros_like(input_ids, dtype=torch.bool)
    for row, (ids, n_prompt) in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        response[row, n_prompt : len(ids)] = True
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = input_ids[:, 1:].to(device)
    token_logps = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = response[:, 1:].to(device)
    return [float(v) for v in (token_logps * mask).sum(dim=1).cpu()]


def _load_models(model_dir: Path, ref: str | None) -> tuple[Any, Any, str]:
    """(policy, reference or None for 'policy with its adapter disabled', reference name)."""
    transformers = require("transformers", "train")
    manifest = read_manifest(model_dir) or {}
    adapter = (model_dir / "adapter_config.json").is_file()

    def load(path: str | Path) -> Any:
        check_model_folder(path)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        return loaded.eval()

    if adapter:
        peft = require("peft", "train")
        config = json.loads((model_dir / "adapter_config.json").read_text(encoding="utf-8"))
        base_path = manifest.get("model", {}).get("base") or config.get("base_model_name_or_path")
        policy = peft.PeftModel.from_pretrained(load(base_path), str(model_dir)).eval()
        if ref is None:
            return policy, None, f"{base_path} (adapter disabled)"
        return policy, load(ref), ref
    if ref is None:
        # reference-free methods (ORPO, SimPO) still started from the base model
        ref = manifest.get("reference_model") or manifest.get("model", {}).get("base")
        if ref is None:
            raise InputError(
                f"no reference for {model_dir}: it has no manifest.json naming one; pass --ref"
            )
    return load(model_dir), load(ref), str(ref)


def evaluate(
    *,
    model: str | Path,
    data: str | Path,
    ref: str | Path | None = None,
    out: str | Path | None = None,
    beta: float | None = None,
    batch_size: int = 8,
    max_length: int | None = None,
) -> EvalResult:
    """Preference accuracy and mean margin of ``model`` on ``data``; per-pair Parquet to ``out``.

    Without ``ref``: a LoRA adapter is compared with its base model, a full model with the
    reference its handoff manifest names.
    """
    model_dir = check_model_folder(model)
    pairs = load_pairs(data)
    tokenizer = load_tokenizer(model_dir)
    check_tokenizer(tokenizer, pairs, model=model_dir)
    manifest = read_manifest(model_dir) or {}
    beta = float(beta if beta is not None else manifest.get("beta") or DEFAULT_BETA)
    policy, reference, ref_name = _load_models(model_dir, None if ref is None else str(ref))

    rows = pairs.table.select(["prompt", "chosen", "rejected"]).to_pylist()
    sequences: list[tuple[list[int], int]] = []
    lengths: list[tuple[int, int]] = []
    for row in rows:
        p, c, r = encode_pair(tokenizer, row["prompt"], row["chosen"], row["rejected"])
        lengths.append((len(c), len(r)))
        for response in (c, r):
            ids = (p + response)[:max_length] if max_length else p + response
            sequences.append((ids, len(p)))
    pad = tokenizer.pad_token_id
    policy_logps: list[float] = []
    ref_logps: list[float] = []
    step = 2 * batch_size
    for start in range(0, len(sequences), step):
        chunk = sequences[start : start + step]
        policy_logps += _sequence_logps(policy, chunk, pad)
        disabled = policy.disable_adapter() if reference is None else nullcontext()
        with disabled:
            ref_logps += _sequence_logps(reference or policy, chunk, pad)
    pl, rl = np.array(policy_logps), np.array(ref_logps)
    margins = beta * ((pl[0::2] - rl[0::2]) - (pl[1::2] - rl[1::2]))
    table = pa.table(
        {
            ID: pairs.table.column(ID),
            "margin": margins,
            "correct": margins > 0,
            "logp_chosen": pl[0::2],
            "logp_rejected": pl[1::2],
            "ref_logp_chosen": rl[0::2],
            "ref_logp_rejected": rl[1::2],
            "chosen_tokens": [c for c, _ in lengths],
            "rejected_tokens": [r for _, r in lengths],
        }
    )
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    return EvalResult(
        accuracy=float((margins > 0).mean()),
        mean_margin=float(margins.mean()),
        pairs=len(rows),
        beta=beta,
        model=str(model_dir),
        reference=ref_name,
        table=table,
    )
