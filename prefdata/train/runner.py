"""``train(recipe)``: pre-flight, then one TRL trainer, then the handoff folder."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from prefdata.errors import ConfigError, InputError, require
from prefdata.schema import ID
from prefdata.train.data import Pairs, load_pairs, split_eval, unpaired_rows
from prefdata.train.hardware import detect_hardware, release_accelerator_memory
from prefdata.train.manifest import EVAL_IDS_FILE, build_manifest, describe_data, write_manifest
from prefdata.train.notices import warn
from prefdata.train.preflight import (
    check_lengths,
    check_model_folder,
    check_tokenizer,
    limit_prompts,
    load_tokenizer,
)
from prefdata.train.recipe import Recipe, load_recipe, method_defaults, warn_unusual
from prefdata.train.run_folder import (
    check_resume,
    prepare_output_dir,
    resume_record,
    whole_run_loss,
)
from prefdata.train.settings import trainer_settings

DROPPED_FILE = "dropped.parquet"  # pairs max_prompt_length dropped, with their reason


@dataclass
class TrainResult:
    """Where the handoff folder is and the run's headline figures."""

    output_dir: Path
    train_metrics: dict[str, Any] = field(default_factory=dict)
    eval_metrics: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    # trained (bool), reason when not, optimizer steps and the largest lr they used
    training: dict[str, Any] = field(default_factory=dict)

    merged_dir: Path | None = None  # with merge_to: the adapter merged into its base

    @property
    def trained(self) -> bool:
        return bool(self.training.get("trained"))


@dataclass
class Prepared:
    """Everything pre-flight settled; nothing here has loaded a model yet."""

    recipe: Recipe
    config: Any
    tokenizer: Any
    train: Pairs
    eval: Pairs | None
    model_dtype: str
    model_init_kwargs: dict[str, Any]
    hardware: dict[str, Any]
    report: dict[str, Any]
    lora_config: Any = None


def prepare(recipe: Recipe | str | Path | dict[str, Any], **overrides: Any) -> Prepared:
    """Run every pre-flight check and build the TRL config, without loading the model."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, **overrides)
    method = recipe.method_spec
    pairs = load_pairs(recipe.data)
    eval_pairs: Pairs | None = None
    seed = int(recipe.settings.get("seed", 42))
    if recipe.eval_data is not None:
        eval_pairs = load_pairs(recipe.eval_data)
        if eval_pairs.shape != pairs.shape:
            raise InputError(
                f"eval_data is {eval_pairs.shape} but data is {pairs.shape}: use one shape"
            )
    elif recipe.eval_split is not None:
        pairs, eval_pairs = split_eval(pairs, recipe.eval_split, seed=seed)

    if Path(recipe.output_dir).exists() and not Path(recipe.output_dir).is_dir():
        raise InputError(f"output_dir {recipe.output_dir} exists and is not a folder")
    check_model_folder(recipe.model)
    tokenizer = load_tokenizer(recipe.model)
    check_tokenizer(tokenizer, pairs, model=recipe.model)

    hardware = detect_hardware()
    settings, dtype, model_init_kwargs = trainer_settings(recipe, hardware)
    lora_config = _lora_config(recipe.lora) if recipe.lora is not None else None
    if eval_pairs is None:
        settings.setdefault("eval_strategy", "no")
    config_class = method.load_config_class()
    try:
        config = config_class(**settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid recipe for method {method.name!r}: {exc}") from exc
    warn_unusual(settings, method)

    limited = limit_prompts(
        pairs, tokenizer, recipe.max_prompt_length, recipe.prompt_overflow, name="train"
    )
    report: dict[str, Any] = {
        "prompt_overflow": {"train": limited.counts},
        "dropped": limited.dropped,
    }
    if len(limited.pairs) == 0:
        raise InputError(
            f"no pairs left to train on: all {len(pairs)} prompts are over "
            f"max_prompt_length={recipe.max_prompt_length}"
        )
    max_length = getattr(config, "max_length", None)
    report["lengths"] = {"train": check_lengths(limited.pairs, tokenizer, max_length, name="train")}
    if eval_pairs is not None:
        eval_limited = limit_prompts(
            eval_pairs, tokenizer, recipe.max_prompt_length, recipe.prompt_overflow, name="eval"
        )
        report["prompt_overflow"]["eval"] = eval_limited.counts
        if len(eval_limited.pairs) == 0:
            raise InputError("no eval pairs left after max_prompt_length")
        eval_pairs = eval_limited.pairs
        report["lengths"]["eval"] = check_lengths(eval_pairs, tokenizer, max_length, name="eval")
    return Prepared(
        recipe, config, tokenizer, limited.pairs, eval_pairs, dtype, model_init_kwargs,
        hardware, report, lora_config,
    )  # fmt: skip


def _lora_config(settings: dict[str, Any]) -> Any:
    peft = require("peft", "train")
    try:
        return peft.LoraConfig(**{"task_type": "CAUSAL_LM", **settings})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid lora settings {settings}: {exc}") from exc


def _last_checkpoint(output_dir: str) -> str:
    transformers = require("transformers", "train")
    folder = Path(output_dir)
    last = transformers.trainer_utils.get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is None:
        raise InputError(f"nothing to resume: no checkpoint-* folder in {folder}")
    return str(last)


def build_trainer(prep: Prepared, *, callbacks: list[Any] | None = None) -> Any:
    """Load the model and wrap it in the method's TRL trainer."""
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    datasets = require("datasets", "train")
    recipe, method = prep.recipe, prep.recipe.method_spec
    init_kwargs = {"dtype": getattr(torch, prep.model_dtype), **prep.model_init_kwargs}
    model = transformers.AutoModelForCausalLM.from_pretrained(
        recipe.model, local_files_only=True, **init_kwargs
    )
    seed = int(prep.config.seed)

    def rows(pairs: Pairs) -> Any:
        table = pairs.to_trl_rows()
        if method.name == "kto":
            table = unpaired_rows(table, seed=seed)
        return datasets.Dataset.from_dict(table)

    kwargs: dict[str, Any] = {
        "model": model,
        "args": prep.config,
        "train_dataset": rows(prep.train),
        "processing_class": prep.tokenizer,
        "callbacks": callbacks or [],
    }
    if prep.eval is not None:
        kwargs["eval_dataset"] = rows(prep.eval)
    if prep.lora_config is not None:
        kwargs["peft_config"] = prep.lora_config
    if method.name == "rdpo":
        kwargs["rdpo_alpha"] = recipe.rdpo_alpha
    return method.load_trainer_class()(**kwargs)


def train(
    recipe: Recipe | str | Path | dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    merge_to: str | Path | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train on curated pairs as a recipe says and write the handoff folder; with
    ``merge_to``, also write the LoRA adapter merged into its base there.

    >>> train("recipes/dpo.yaml")  # doctest: +SKIP
    """
    from prefdata.train.callbacks import (
        LineProgressCallback,
        MetricsFileCallback,
        RichProgressCallback,
        RunRecordCallback,
        StepWatchCallback,
        read_metrics,
    )
    from prefdata.train.plots import plot_metrics

    started = datetime.now(UTC)
    clock = time.perf_counter()
    prep = preflight(recipe, resume=resume, overwrite=overwrite, merge_to=merge_to, **overrides)
    out = Path(prep.recipe.output_dir)
    prepare_output_dir(out, resume=resume, overwrite=overwrite)
    record = resume_record(resolved_recipe(prep), describe_data(prep.train).get("sha256"))
    checkpoint, earlier_s = None, 0.0
    if resume:
        checkpoint = _last_checkpoint(prep.recipe.output_dir)
        limits = {k: getattr(prep.config, k) for k in ("max_steps", "num_train_epochs")}
        earlier_s = check_resume(checkpoint, record, limits)
    run_clock = RunRecordCallback(out, record, earlier_s, started=clock)
    watch = StepWatchCallback()
    callbacks: list[Any] = [MetricsFileCallback(out), run_clock, watch]
    if progress:
        prep.config.disable_tqdm = True  # our own display replaces tqdm
        # a bar in a terminal; in a batch job's log, one line per logging step
        callbacks.append(RichProgressCallback() if sys.stdout.isatty() else LineProgressCallback())
    trainer = build_trainer(prep, callbacks=callbacks)
    if progress:
        # with tqdm off, transformers prints every log dict; the rich line shows them instead
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    eval_metrics = trainer.evaluate() if prep.eval is not None else {}
    trainer.save_model(str(out))
    result = TrainResult(out, dict(output.metrics), dict(eval_metrics))
    result.duration_s = run_clock.elapsed()
    result.training = watch.summary(trainer.state.global_step)
    if not result.trained:
        warn(f"nothing was trained: {result.training['reason']}")
    if checkpoint is not None:
        # TRL's figures cover this session only: keep them as session_*, and give the
        # whole run's loss from every logged step, earlier sessions included
        metrics = result.train_metrics
        for key in (
            "train_loss",
            "train_runtime",
            "train_samples_per_second",
            "train_steps_per_second",
        ):
            if key in metrics:
                metrics[f"session_{key}"] = metrics.pop(key)
        metrics["train_loss"] = whole_run_loss(read_metrics(out))
    if trainer.is_world_process_zero():
        prep.tokenizer.save_pretrained(str(out))
        plot_metrics(read_metrics(out), out / "plots")
        if prep.report["dropped"] is not None:
            pq.write_table(prep.report["dropped"], out / DROPPED_FILE)
        if prep.eval is not None and prep.recipe.eval_split is not None:
            pq.write_table(prep.eval.table.select([ID]), out / EVAL_IDS_FILE)
        write_manifest(out, build_manifest(prep, result, started, resumed_from=checkpoint))
        if merge_to is not None:
            from prefdata.train.export import merge_adapter

            result.merged_dir = merge_adapter(out, merge_to)
    del trainer
    release_accelerator_memory()  # the next step (an iterate round's sampling) needs it
    return result


def preflight(
    recipe: Recipe | str | Path | dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    merge_to: str | Path | None = None,
    **overrides: Any,
) -> Prepared:
    """Everything ``train`` checks before it loads a model (``--check``): the output
    folder, ``merge_to``, then the recipe, data and tokenizer (see ``prepare``)."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, **overrides)
    prepare_output_dir(recipe.output_dir, resume=resume, overwrite=overwrite, clear=False)
    if merge_to is not None:
        if recipe.lora is None:
            raise ConfigError("--merge applies to LoRA runs: this recipe has no lora")
        target = Path(merge_to)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError(f"--merge folder {target} is not empty: choose a new folder")
    return prepare(recipe)


def resolved_recipe(prep: Prepared) -> dict[str, Any]:
    """The recipe with prefdata's defaults and the precision settings filled in."""
    resolved = prep.recipe.to_dict()
    config_dict = prep.config.to_dict()
    resolved.update({k: config_dict[k] for k in method_defaults(prep.recipe) if k in config_dict})
    resolved.update({k: config_dict.get(k) for k in ("bf16", "fp16", "use_cpu")})
    resolved["dtype"] = prep.model_dtype
    return resolved
