"""Score sampled completions: a rule-based ``module:function`` or a local reward model.

A callable gets ``fn(prompts, completions) -> list[float]``, one prompt per completion
(each prompt repeated k times), and must return one finite number per completion. A
function that names another column of the prompts file as a parameter (``answer``) or
takes ``**columns`` gets those columns too, aligned with the completions, as TRL's GRPO
reward functions do: that is how exact-match rewards see the gold answer. Any
failure raises ConfigError naming the scorer, so the round stops before it writes pairs
and earlier rounds stay as they are.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from typing import Any

from prefdata.errors import ConfigError, InputError, require
from prefdata.iterate.prompts import Prompt
from prefdata.iterate.recipe import ScorerSpec

# scorer(prompts, completions, **columns): columns are the prompts file's other columns
Scorer = Callable[..., list[float]]


def load_scorer(spec: ScorerSpec) -> Scorer:
    """The scoring function a recipe names, checked to exist before any sampling."""
    if spec.callable is not None:
        return _checked(_import_callable(spec.callable), spec.name)
    assert spec.reward_model is not None
    return _checked(_reward_model(spec.reward_model, spec.batch_size), spec.name)


def _import_callable(target: str) -> Scorer:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"scorer {target!r}: cannot import module {module_name!r}: {exc}"
        ) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"scorer {target!r}: module {module_name!r} has no function {attr!r}")
    return fn


def _wanted_columns(fn: Scorer) -> set[str] | None:
    """Column names ``fn`` takes by keyword; None means all of them (``**kwargs``)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: positional only
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters[2:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _checked(fn: Scorer, name: str) -> Scorer:
    wanted = _wanted_columns(fn)

    def score(prompts: list[Prompt], completions: list[str], **columns: list[Any]) -> list[float]:
        if wanted is not None:
            missing = sorted(wanted - set(columns))
            if missing:
                raise ConfigError(
                    f"scorer {name} takes {missing}, but the prompts file has no such column; "
                    f"found {sorted(columns)}"
                )
            columns = {k: v for k, v in columns.items() if k in wanted}
        try:
            values = list(fn(prompts, completions, **columns))
        except Exception as exc:  # a user's scorer may raise anything; say whose it was
            raise ConfigError(f"scorer {name} raised {type(exc).__name__}: {exc}") from exc
        if len(values) != len(completions):
            raise ConfigError(
                f"scorer {name} returned {len(values)} scores for {len(completions)} completions: "
                "it must return one number per completion"
            )
        bad = [v for v in values if not _finite(v)]
        if bad:
            raise ConfigError(
                f"scorer {name} returned a non-finite or non-numeric score {bad[0]!r}"
            )
        return [float(v) for v in values]

    return score


def _finite(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _reward_model(folder: str, batch_size: int) -> Scorer:
    """Any ``AutoModelForSequenceClassification`` folder; its first logit is the reward.
    It scores on the GPU when there is one."""
    from pathlib import Path

    from prefdata.train.logprobs import pick_device
    from prefdata.train.preflight import load_tokenizer

    path = Path(folder)
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"scorer reward model not found: {path} is not a Hugging Face model folder "
            "(no config.json); give a local AutoModelForSequenceClassification folder"
        )
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    try:
        tokenizer = load_tokenizer(path)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(path), local_files_only=True
        ).eval()
    except (OSError, ValueError, InputError) as exc:
        raise ConfigError(f"cannot load the scorer reward model {path}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    device = pick_device()

    def score(prompts: list[Prompt], completions: list[str], **_columns: Any) -> list[float]:
        # onto the GPU only now: the scorer is loaded before sampling (to fail early), and
        # vLLM's child process wants the GPU free while it samples
        model.to(device)
        texts = [_joined(tokenizer, p, c) for p, c in zip(prompts, completions, strict=True)]
        values: list[float] = []
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
            )
            with torch.no_grad():
                logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            values += [float(v) for v in logits[:, 0].float().cpu()]
        return values

    return score


def _joined(tokenizer: Any, prompt: Prompt, completion: str) -> str:
    if isinstance(prompt, str):
        return prompt + completion
    conversation = [*prompt, {"role": "assistant", "content": completion}]
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(conversation, tokenize=False))
    return "\n".join(f"{m['role']}: {m['content']}" for m in conversation)
