"""A training recipe: prefdata's own keys plus any field of the method's TRL config.

A recipe YAML reads like alignment-handbook's: config field names at the top level::

    data: out/curated            # a Parquet file, or a folder with kept.parquet
    model: out/tiny-model        # a local Hugging Face model folder
    output_dir: out/dpo
    method: dpo
    loss_type: [sigmoid, sft]    # any trl.DPOConfig field by its own name
    loss_weights: [1.0, 0.2]
    lora: {r: 16, lora_alpha: 32}
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefdata.config import load_config_file
from prefdata.errors import ConfigError, require
from prefdata.train.hardware import check_dtype
from prefdata.train.methods import METHODS, Method, get_method
from prefdata.train.notices import warn
from prefdata.train.recipe_types import SCIENTIFIC, check_values

PROMPT_OVERFLOW = ("truncate_left", "drop")

# prefdata's keys; every other recipe key must be a field of the method's TRL config
PREFDATA_KEYS: dict[str, str] = {
    "data": "curated Parquet file, or a folder holding kept.parquet",
    "eval_data": "held-out pairs in the same format",
    "eval_split": "fraction of data held out for evaluation when eval_data is not given",
    "model": "local Hugging Face model folder (no hub downloads)",
    "output_dir": "the handoff folder",
    "method": f"one of {sorted(METHODS)}",
    "lora": "peft LoraConfig fields, e.g. {r: 16, lora_alpha: 32}; no reference copy is loaded",
    "max_prompt_length": "prompt tokens kept at most (TRL removed this setting)",
    "prompt_overflow": f"what to do with longer prompts: one of {list(PROMPT_OVERFLOW)}",
    "rdpo_alpha": "R-DPO length coefficient (method rdpo only)",
    "warmup_ratio": "fraction of steps to warm up over (transformers 5 spells it warmup_steps < 1)",
    "dtype": "model weight dtype: float32 (default: bf16 compute on a GPU), bfloat16, float16",
    "attn_implementation": "transformers attention kernel, e.g. sdpa, eager, flash_attention_2",
}

# prefdata's defaults for every method: a conservative DPO-style run
DEFAULTS: dict[str, Any] = {
    "beta": 0.1,
    "learning_rate": 5e-7,
    "num_train_epochs": 1,
    "warmup_steps": 0.1,  # a float below 1 is a ratio of the total steps
    "report_to": "none",
}
# outside these a recipe is probably a typo or a demo; warn, don't refuse
LR_RANGE = (1e-7, 5e-6)
EPOCH_RANGE = (1, 3)


@dataclass
class Recipe:
    """A validated recipe: prefdata's keys as attributes, config fields in ``settings``."""

    data: str
    model: str
    output_dir: str
    method: str = "dpo"
    eval_data: str | None = None
    eval_split: float | None = None
    lora: dict[str, Any] | None = None
    max_prompt_length: int | None = None
    prompt_overflow: str = "truncate_left"
    rdpo_alpha: float | None = None
    dtype: str | None = None
    attn_implementation: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        method = get_method(self.method)
        for name in ("data", "model", "output_dir"):
            value = getattr(self, name)
            if not isinstance(value, str | Path) or not str(value):
                raise ConfigError(f"{name} must be a path, got {value!r}")
            setattr(self, name, str(value))
        if self.eval_data is not None and self.eval_split is not None:
            raise ConfigError("give eval_data or eval_split, not both")
        if self.eval_split is not None and (
            not isinstance(self.eval_split, int | float) or not 0 < self.eval_split < 1
        ):
            raise ConfigError(f"eval_split must be between 0 and 1, got {self.eval_split!r}")
        if self.max_prompt_length is not None and (
            not isinstance(self.max_prompt_length, int) or self.max_prompt_length < 1
        ):
            raise ConfigError(
                f"max_prompt_length must be an integer >= 1, got {self.max_prompt_length!r}"
            )
        if self.prompt_overflow not in PROMPT_OVERFLOW:
            raise ConfigError(
                f"prompt_overflow must be one of {list(PROMPT_OVERFLOW)}, "
                f"got {self.prompt_overflow!r}"
            )
        if self.lora is not None and not isinstance(self.lora, dict):
            raise ConfigError(f"lora must be a mapping of LoraConfig fields, got {self.lora!r}")
        if self.lora is not None:
            check_lora(self.lora)
        if self.dtype is not None:
            check_dtype(self.dtype)
        if self.attn_implementation is not None and not isinstance(self.attn_implementation, str):
            raise ConfigError(
                f"attn_implementation must be text (sdpa, eager, flash_attention_2, ...), "
                f"got {self.attn_implementation!r}"
            )
        if self.rdpo_alpha is not None and (
            not isinstance(self.rdpo_alpha, int | float) or isinstance(self.rdpo_alpha, bool)
        ):
            raise ConfigError(f"rdpo_alpha must be a number, got {self.rdpo_alpha!r}")
        if self.rdpo_alpha is not None and method.name != "rdpo":
            raise ConfigError(f"rdpo_alpha applies to method 'rdpo' only, not {method.name!r}")
        if method.name == "rdpo" and self.rdpo_alpha is None:
            self.rdpo_alpha = method.defaults["rdpo_alpha"]

    @property
    def method_spec(self) -> Method:
        return get_method(self.method)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as YAML keys again, settings flattened to the top level."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "settings"}
        out.update(self.settings)
        return {k: v for k, v in out.items() if v is not None}


def load_recipe(source: str | Path | dict[str, Any], **overrides: Any) -> Recipe:
    """Read a recipe (YAML/TOML file or mapping) and check every key against the method.

    ``overrides`` (None means not given) win over the file, e.g. ``output_dir=...``.
    """
    raw = dict(source) if isinstance(source, dict) else load_config_file(source)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    method = get_method(raw.get("method", "dpo"))
    missing = [k for k in ("data", "model", "output_dir") if k not in raw]
    if missing:
        raise ConfigError(f"recipe has no {missing}: data, model and output_dir are required")
    config_fields = _init_fields(method.load_config_class())
    _check_keys(raw, method, config_fields)
    for key in ("eval_split", "rdpo_alpha", "warmup_ratio"):  # YAML leaves `1e-2` a string
        if isinstance(raw.get(key), str) and SCIENTIFIC.match(raw[key]):
            raw[key] = float(raw[key])
    if "warmup_ratio" in raw:
        ratio = raw.pop("warmup_ratio")
        if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 <= ratio < 1:
            raise ConfigError(f"warmup_ratio must be a number >= 0 and < 1, got {ratio!r}")
        raw["warmup_steps"] = float(ratio)
    own = {k: raw.pop(k) for k in list(raw) if k in PREFDATA_KEYS and k != "output_dir"}
    own["output_dir"] = raw.pop("output_dir")
    for key, value in method.fixed.items():
        if key in raw and raw[key] != value:
            raise ConfigError(f"method {method.name!r} sets {key}={value!r}; got {raw[key]!r}")
    _check_choices(raw, method.load_config_class())
    check_values(raw, method.load_config_class())
    return Recipe(settings=raw, **own)


def _init_fields(config_class: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(config_class) if f.init}


def _check_keys(raw: dict[str, Any], method: Method, config_fields: dict[str, Any]) -> None:
    valid = set(PREFDATA_KEYS) | set(config_fields)
    unknown = sorted(set(raw) - valid)
    if not unknown:
        return
    key = unknown[0]
    others = [
        m.name
        for m in METHODS.values()
        if m.config_class != method.config_class and key in _init_fields(m.load_config_class())
    ]
    if others:
        raise ConfigError(
            f"recipe key {key!r} is not a setting of method {method.name!r}; "
            f"it belongs to method(s) {others}"
        )
    close = difflib.get_close_matches(key, sorted(valid), n=3)
    hint = f" (did you mean {close}?)" if close else ""
    config_name = method.config_class.partition(":")[2]
    raise ConfigError(
        f"unknown recipe key(s) {unknown}{hint}; valid: prefdata keys {sorted(PREFDATA_KEYS)} "
        f"and any trl {config_name} field: {sorted(config_fields)}"
    )


def _check_choices(settings: dict[str, Any], config_class: type) -> None:
    """Reject values TRL would only refuse mid-training (e.g. an unknown DPO loss_type)."""
    fields = _init_fields(config_class)
    for key, value in settings.items():
        metadata = fields[key].metadata
        choices = list(metadata.get("choices") or [])
        # DPOConfig lists its loss types only in the help text: "`'sigmoid'`, `'hinge'`, ..."
        if key == "loss_type" and not choices:
            choices = re.findall(r"`'([a-z0-9_]+)'`", metadata.get("help", ""))
        if not choices:
            continue
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v not in choices]
        if bad:
            raise ConfigError(f"{key} must be one of {choices}, got {bad[0]!r}")


def check_lora(lora: dict[str, Any]) -> None:
    """Every ``lora:`` key is a peft LoraConfig field of the right type, checked without a model."""
    peft = require("peft", "train")
    fields = set(_init_fields(peft.LoraConfig))
    unknown = sorted(set(lora) - fields)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(fields), n=3)
        hint = f" (did you mean {close}?)" if close else ""
        raise ConfigError(
            f"unknown lora key(s) {unknown}{hint}: lora takes peft LoraConfig fields, "
            "e.g. r, lora_alpha, lora_dropout, target_modules"
        )
    check_values(lora, peft.LoraConfig, what="lora key")


def method_defaults(recipe: Recipe) -> dict[str, Any]:
    """prefdata's defaults, then the method's, for keys the recipe leaves out."""
    method = recipe.method_spec
    merged = {**DEFAULTS, **{k: v for k, v in method.defaults.items() if k != "rdpo_alpha"}}
    return {**merged, **method.fixed}


def warn_unusual(settings: dict[str, Any], method: Method) -> None:
    """One line per hyper-parameter far outside its usual range."""
    beta, lr = settings.get("beta"), settings.get("learning_rate")
    epochs = settings.get("num_train_epochs")
    low, high = method.beta_range
    if isinstance(beta, int | float) and not low <= beta <= high:
        warn(f"beta={beta} is outside the usual {low}-{high} for {method.name}")
    if isinstance(lr, int | float) and not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        warn(
            f"learning_rate={lr} is outside the usual {LR_RANGE[0]}-{LR_RANGE[1]} for "
            "preference tuning"
        )
    if isinstance(epochs, int | float) and not EPOCH_RANGE[0] <= epochs <= EPOCH_RANGE[1]:
        warn(f"num_train_epochs={epochs} is outside the usual {EPOCH_RANGE[0]}-{EPOCH_RANGE[1]}")
