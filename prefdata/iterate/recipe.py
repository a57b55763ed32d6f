"""An iterate recipe: the starting model, the prompts, the rounds and how to sample, score
and train them.

Example (``prefdata iterate recipe.yaml``)::

    model: out/tiny-model          # the starting policy, a local Hugging Face folder
    prompts: prompts.jsonl         # JSONL/Parquet with a `prompt` column (text or messages)
    eval_prompts: heldout.jsonl    # optional: each round's trained model is scored on these
    output_dir: out/iterate
    rounds: 3                      # m: the prompts are split into m parts, one per round
    samples_per_prompt: 4          # k: best and worst of the k samples become a pair
    temperature: 0.8
    top_p: 1.0
    max_new_tokens: 256
    seed: 0
    scorer: my_rewards:exact_match # a `module:function`, or {reward_model: DIR}
    filter: {min_chosen_chars: 1, min_rejected_chars: 1}   # FilterConfig keys
    train:                         # training-recipe keys (see prefdata/train/recipe.py)
      loss_type: [sigmoid, sft]    # DPO + NLL on the chosen response, as Pang et al. 2024
      loss_weights: [1.0, 1.0]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefdata.config import FilterConfig, build_configs, load_config_file
from prefdata.errors import ConfigError
from prefdata.train.recipe import load_recipe

GENERATORS = ("transformers", "vllm")
# Keys every round sets itself; a recipe giving them under `train:` would be ignored.
ROUND_TRAIN_KEYS = ("data", "model", "output_dir", "eval_data", "eval_split")
CALLABLE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class ScorerSpec:
    """Either a ``module:function`` callable or a reward-model folder, never both."""

    callable: str | None = None
    reward_model: str | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        if (self.callable is None) == (self.reward_model is None):
            raise ConfigError(
                "scorer must name one of callable ('module:function') or reward_model (a folder)"
            )
        if self.callable is not None and not CALLABLE_SPEC.match(self.callable):
            raise ConfigError(
                f"scorer callable must look like 'module:function', got {self.callable!r}"
            )
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"scorer batch_size must be an integer >= 1, got {self.batch_size!r}")

    @property
    def name(self) -> str:
        return self.callable or f"reward model {self.reward_model}"

    @classmethod
    def parse(cls, value: Any) -> ScorerSpec:
        """A string is a callable when it looks like ``module:function``, else a folder."""
        if isinstance(value, str):
            if CALLABLE_SPEC.match(value):
                return cls(callable=value)
            return cls(reward_model=value)
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"callable", "reward_model", "batch_size"})
            if unknown:
                raise ConfigError(
                    f"unknown scorer key(s) {unknown}; valid: callable, reward_model, batch_size"
                )
            return cls(**value)
        raise ConfigError(
            f"scorer must be 'module:function', a reward-model folder or a mapping, got {value!r}"
        )


@dataclass
class IterateRecipe:
    """A validated iterate recipe; ``train`` holds training-recipe keys for every round."""

    model: str
    prompts: str
    output_dir: str
    scorer: ScorerSpec
    # held-out prompts every round's trained model is sampled and scored on (optional)
    eval_prompts: str | None = None
    rounds: int = 2
    samples_per_prompt: int = 4
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0
    batch_size: int = 8  # prompts per generate() call
    generator: str = "transformers"
    # keyword arguments for vllm.LLM, e.g. {gpu_memory_utilization: 0.5, dtype: bfloat16}
    vllm_options: dict[str, Any] = field(default_factory=dict)
    filter: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("model", "prompts", "output_dir"):
            value = getattr(self, name)
            if not isinstance(value, str | Path) or not str(value):
                raise ConfigError(f"{name} must be a path, got {value!r}")
            setattr(self, name, str(value))
        if self.eval_prompts is not None:
            self.eval_prompts = str(self.eval_prompts)
        for name, low in (("rounds", 1), ("max_new_tokens", 1), ("batch_size", 1)):
            _check_int(name, getattr(self, name), low)
        # best and worst need two samples to differ
        _check_int("samples_per_prompt", self.samples_per_prompt, 2)
        _check_int("seed", self.seed, 0)
        if not isinstance(self.temperature, int | float) or self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0 (sampling), got {self.temperature!r}")
        if not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.generator not in GENERATORS:
            raise ConfigError(
                f"generator must be one of {list(GENERATORS)}, got {self.generator!r}"
            )
        for name in ("filter", "train", "vllm_options"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(
                    f"{name} must be a mapping of settings, got {getattr(self, name)!r}"
                )
        given = sorted(set(self.train) & set(ROUND_TRAIN_KEYS))
        if given:
            raise ConfigError(
                f"train must not set {given}: every round trains its own pairs from the model "
                "the previous round wrote; set the starting model with the top-level `model`"
            )
        self.filter_config()  # fail now, not after the first round's sampling
        load_recipe({**self.train, "data": "-", "model": "-", "output_dir": "-"})

    def filter_config(self) -> FilterConfig:
        filter_config, _read = build_configs(self.filter)
        return filter_config

    def train_recipe(self, *, data: Path, model: str, output_dir: Path) -> dict[str, Any]:
        """One round's training recipe: the shared settings plus this round's paths."""
        return {**self.train, "data": str(data), "model": model, "output_dir": str(output_dir)}

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["scorer"] = {k: v for k, v in self.scorer.__dict__.items() if v is not None}
        return out


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def load_iterate_recipe(source: str | Path | dict[str, Any], **overrides: Any) -> IterateRecipe:
    """Read an iterate recipe (YAML/TOML file or mapping); ``overrides`` (None = not given) win."""
    raw = dict(source) if isinstance(source, dict) else load_config_file(source)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = set(IterateRecipe.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown iterate recipe key(s) {unknown}; valid: {sorted(known)}")
    missing = [k for k in ("model", "prompts", "output_dir", "scorer") if k not in raw]
    if missing:
        raise ConfigError(
            f"iterate recipe has no {missing}: model, prompts, output_dir and scorer are required"
        )
    raw["scorer"] = ScorerSpec.parse(raw["scorer"])
    return IterateRecipe(**raw)
