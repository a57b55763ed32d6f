"""Preference accuracy of a trained model, per pair and overall, the way its trainer
measured it: the method's own implicit reward (see margins.py), the same max_length
truncation and max_prompt_length as training, on the GPU when there is one.

A pair counts as correct when its margin is > 0 (a tie is not a win), as TRL's
``rewards/accuracies`` counts ``chosen_rewards > rejected_rewards``.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import InputError, require
from prefdata.schema import ID
from prefdata.train.data import Pairs, load_pairs
from prefdata.train.hardware import check_dtype, release_accelerator_memory
from prefdata.train.logprobs import Sequence, pick_device, response_logps, truncate
from prefdata.train.manifest import read_manifest, resolve_path
from prefdata.train.margins import MarginRule, margin_rule, margins
from prefdata.train.notices import warn
from prefdata.train.pair_tokens import encode_pair
from prefdata.train.preflight import (
    check_model_folder,
    check_tokenizer,
    limit_prompts,
    load_tokenizer,
)

DEFAULT_BETA = 0.1
ROW = "__row"  # original row number, carried through max_prompt_length


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
    method: str = "dpo"
    margin: str = ""  # the formula the margins follow
    device: str = "cpu"
    max_length: int | None = None
    # rows of the input the table holds (max_prompt_length may drop some), in input order
    rows: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "accuracy": round(self.accuracy, 4),
            "mean_margin": round(self.mean_margin, 4),
            "beta": self.beta,
            "method": self.method,
            "margin": self.margin,
            "model": self.model,
            "reference": self.reference,
            "device": self.device,
            "max_length": self.max_length,
        }


def adapter_base(model_dir: Path, manifest: dict[str, Any]) -> Path:
    """The base model of a LoRA adapter folder: the manifest's (resolved from its folder),
    else adapter_config.json's ``base_model_name_or_path``."""
    named = (manifest.get("model") or {}).get("base")
    if named:
        return resolve_path(model_dir, named)
    config = json.loads((model_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise InputError(f"{model_dir} names no base model: pass the base with --ref")
    return resolve_path(model_dir, base)


def load_causal_lm(path: str | Path, *, device: str, dtype: str = "float32") -> Any:
    """A local causal LM in eval mode on ``device``."""
    check_dtype(dtype)
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    check_model_folder(path)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        str(path), local_files_only=True, dtype=getattr(torch, dtype)
    )
    return loaded.to(device).eval()


def _load_models(
    model_dir: Path, ref: str | None, rule: MarginRule, manifest: dict[str, Any], *, device: str
) -> tuple[Any, Any, str]:
    """(policy, reference or None, reference name). A None reference with a reference-based
    rule means 'the policy with its adapter disabled'."""
    dtype = (manifest.get("model") or {}).get("dtype") or "float32"
    adapter = (model_dir / "adapter_config.json").is_file()
    if adapter:
        peft = require("peft", "train")
        base_path = adapter_base(model_dir, manifest)
        base = load_causal_lm(base_path, device=device, dtype=dtype)
        policy = peft.PeftModel.from_pretrained(base, str(model_dir)).to(device).eval()
    else:
        policy = load_causal_lm(model_dir, device=device, dtype=dtype)
    if not rule.uses_reference:
        if ref is not None:
            warn(
                f"method {rule.method} is reference-free: its margin uses no reference; --ref ignored"
            )
        return policy, None, "none (reference-free method)"
    if ref is not None:
        return policy, load_causal_lm(ref, device=device, dtype=dtype), ref
    if adapter:
        return policy, None, f"{base_path} (adapter disabled)"
    named = manifest.get("reference_model") or (manifest.get("model") or {}).get("base")
    if named is None:
        raise InputError(
            f"no reference for {model_dir}: it has no manifest.json naming one; pass --ref"
        )
    ref_path = resolve_path(model_dir, named)
    return policy, load_causal_lm(ref_path, device=device, dtype=dtype), str(ref_path)


def _limited(pairs: Pairs, tokenizer: Any, recipe: dict[str, Any]) -> tuple[Pairs, list[int]]:
    """The pairs after training's max_prompt_length, and which input rows they are."""
    numbered = Pairs(
        pairs.table.append_column(ROW, pa.array(range(len(pairs)), pa.int64())),
        pairs.shape,
        pairs.path,
    )
    limit = recipe.get("max_prompt_length")
    mode = recipe.get("prompt_overflow") or "truncate_left"
    limited = limit_prompts(numbered, tokenizer, limit, mode, name="evaluated").pairs
    if len(limited) == 0:
        raise InputError(f"no pairs left to evaluate after max_prompt_length={limit}")
    return limited, limited.table.column(ROW).to_pylist()


def evaluate(
    *,
    model: str | Path,
    data: str | Path,
    ref: str | Path | None = None,
    out: str | Path | None = None,
    beta: float | None = None,
    batch_size: int = 8,
    max_length: int | None = None,
    device: str | None = None,
) -> EvalResult:
    """Preference accuracy and mean margin of ``model`` on ``data``; per-pair Parquet to ``out``.

    Without ``ref``: a LoRA adapter is compared with its base model, a full model with the
    reference its handoff manifest names; reference-free methods (SimPO, ORPO, CPO) use
    none. ``max_length`` defaults to the training's, as does its truncation mode.
    """
    model_dir = check_model_folder(model)
    pairs = load_pairs(data)
    tokenizer = load_tokenizer(model_dir)
    check_tokenizer(tokenizer, pairs, model=model_dir)
    manifest = read_manifest(model_dir) or {}
    config = manifest.get("trainer_config") or {}
    rule = margin_rule(manifest)
    beta = float(beta if beta is not None else manifest.get("beta") or DEFAULT_BETA)
    if max_length is None:
        max_length = config.get("max_length")
    mode = config.get("truncation_mode") or "keep_start"
    device = pick_device(device)
    # compute as training did: bf16 autocast when it trained in bf16 on a GPU
    autocast = "bfloat16" if device.startswith("cuda") and config.get("bf16") else None
    pairs, kept_rows = _limited(pairs, tokenizer, manifest.get("recipe") or {})
    policy, reference, ref_name = _load_models(
        model_dir, None if ref is None else str(ref), rule, manifest, device=device
    )

    sequences: list[Sequence] = []
    for row in pairs.table.select(["prompt", "chosen", "rejected"]).to_pylist():
        p, c, r = encode_pair(tokenizer, row["prompt"], row["chosen"], row["rejected"])
        bos = tokenizer.bos_token_id
        if rule.bos_first and bos is not None and (not p or p[0] != bos):
            p = [bos, *p]
        sequences += [truncate(p, c, max_length, mode), truncate(p, r, max_length, mode)]
    pad = tokenizer.pad_token_id
    policy_logps: list[float] = []
    counts: list[int] = []
    ref_logps: list[float] = []
    step = 2 * batch_size
    for start in range(0, len(sequences), step):
        chunk = sequences[start : start + step]
        logps, n = response_logps(policy, chunk, pad, autocast=autocast)
        policy_logps += logps
        counts += n
        if rule.uses_reference:
            disabled = policy.disable_adapter() if reference is None else nullcontext()
            with disabled:
                ref_logps += response_logps(reference or policy, chunk, pad, autocast=autocast)[0]
    pl, n_tokens = np.array(policy_logps), np.array(counts)
    rl = np.array(ref_logps) if rule.uses_reference else None
    margin = margins(rule, beta, pl, n_tokens, rl)
    columns: dict[str, Any] = {
        ID: pairs.table.column(ID),
        "margin": margin,
        "correct": margin > 0,
        "logp_chosen": pl[0::2],
        "logp_rejected": pl[1::2],
    }
    if rl is not None:
        columns.update(ref_logp_chosen=rl[0::2], ref_logp_rejected=rl[1::2])
    # tokens scored after truncation, as the trainer saw them
    columns.update(chosen_tokens=n_tokens[0::2], rejected_tokens=n_tokens[1::2])
    table = pa.table(columns)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    del policy, reference
    release_accelerator_memory()
    return EvalResult(
        accuracy=float((margin > 0).mean()),
        mean_margin=float(margin.mean()),
        pairs=len(pairs),
        beta=beta,
        model=str(model_dir),
        reference=ref_name,
        table=table,
        method=rule.method,
        margin=rule.formula,
        device=device,
        max_length=max_length,
        rows=kept_rows,
    )
