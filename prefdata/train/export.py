"""Merge a LoRA adapter into its base model: a plain model folder that vLLM, ``generate``
and the next ``iterate`` round load like any other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefdata.errors import InputError, require
from prefdata.train.manifest import (
    config_sha256,
    portable_path,
    read_manifest,
    resolve_path,
    write_manifest,
)
from prefdata.train.preflight import check_model_folder, load_tokenizer


def merge_adapter(adapter: str | Path, out: str | Path, *, dtype: str | None = None) -> Path:
    """Write ``adapter`` merged into its base to ``out`` (model, tokenizer, manifest).

    ``dtype`` defaults to the dtype the adapter was trained on.

    >>> merge_adapter("out/dpo-lora", "out/dpo-merged")  # doctest: +SKIP
    """
    from prefdata.train.evaluation import adapter_base, load_causal_lm

    peft = require("peft", "train")
    adapter_dir = check_model_folder(adapter)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise InputError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)")
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise InputError(f"{target} is not empty: choose a new folder for the merged model")
    manifest = read_manifest(adapter_dir) or {}
    base = adapter_base(adapter_dir, manifest)
    dtype = dtype or (manifest.get("model") or {}).get("dtype") or "float32"
    model = load_causal_lm(base, device="cpu", dtype=dtype)
    merged: Any = peft.PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    target.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(target))
    load_tokenizer(adapter_dir).save_pretrained(str(target))
    record = dict(manifest)
    record["merged"] = {
        "adapter": portable_path(target, adapter_dir),
        "adapter_config_sha256": config_sha256(adapter_dir),
        "base": portable_path(target, base),
        "dtype": dtype,
    }
    if manifest:
        # the copied manifest's own paths were relative to the adapter's folder
        record["model"] = {**manifest.get("model", {}), "adapter": False}
        record["model"]["base"] = portable_path(target, base)
        reference = manifest.get("reference_model")
        record["reference_model"] = (
            portable_path(target, base) if reference and "adapter disabled" in reference else None
        )
        for key in ("data", "eval_data"):
            if isinstance(manifest.get(key), dict) and manifest[key].get("path"):
                source = resolve_path(adapter_dir, manifest[key]["path"])
                record[key] = {**manifest[key], "path": portable_path(target, source)}
    write_manifest(target, record)
    return target
