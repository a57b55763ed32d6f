"""``iterate(recipe)``: rounds of sample -> score -> pair -> curate -> train.

Iterative DPO after Pang et al. 2024 ("Iterative Reasoning Preference Optimization"):
the prompts are split into m parts; round N samples k completions per prompt of part N
from the model round N-1 wrote, pairs the best and worst by the scorer, runs the pairs
through prefdata's checks and trains on the kept ones with that same model as the
reference. Each round lives in ``round_N/``; its ``round.json`` is written last, so a
folder with it is finished and a stopped run resumes at the first round without it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefdata.errors import ConfigError
from prefdata.iterate.pairing import best_worst_pairs, samples_table
from prefdata.iterate.prompts import PromptSet, load_prompts, split_parts
from prefdata.iterate.recipe import IterateRecipe, load_iterate_recipe
from prefdata.iterate.sampling import SamplingSettings, sample
from prefdata.iterate.scoring import load_scorer
from prefdata.iterate.summary import write_summary
from prefdata.results import open_result

ROUND_DONE = "round.json"
MERGED = "merged"  # a LoRA round's adapter merged into its starting model
RUN_FILE = "iterate.json"  # the recipe of the run, checked on resume
# a resumed run must keep what decides each round's prompts
RESUME_KEYS = ("prompts", "rounds")

Log = Callable[[str], None]


@dataclass
class IterateResult:
    output_dir: Path
    rounds: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0  # rounds found finished and skipped

    @property
    def final_model(self) -> str:
        return _model_path(self.output_dir, str(self.rounds[-1]["model"]))


def iterate(
    recipe: IterateRecipe | str | Path | dict[str, Any],
    *,
    progress: bool = True,
    log: Log | None = None,
    **overrides: Any,
) -> IterateResult:
    """Run every unfinished round of an iterate recipe; return the per-round figures.

    >>> iterate("iterate.yaml").rounds[-1]["mean_reward"]  # doctest: +SKIP
    """
    if not isinstance(recipe, IterateRecipe):
        recipe = load_iterate_recipe(recipe, **overrides)
    say = log or (lambda _message: None)
    out = Path(recipe.output_dir)
    parts = split_parts(load_prompts(recipe.prompts), recipe.rounds)
    eval_set = load_prompts(recipe.eval_prompts) if recipe.eval_prompts else None
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, recipe)
    result = IterateResult(out)
    model = recipe.model
    for number, part in enumerate(parts, start=1):
        folder = out / f"round_{number}"
        done = folder / ROUND_DONE
        if done.is_file():
            row = json.loads(done.read_text(encoding="utf-8"))
            result.rounds.append(row)
            result.resumed += 1
            model = _model_path(out, row["model"])
            say(f"round {number}: finished earlier, model {model}")
            continue
        if folder.exists():
            shutil.rmtree(folder)  # an unfinished round is redone from scratch
        folder.mkdir()
        row = _run_round(recipe, number, part, model, folder, progress=progress, say=say)
        if eval_set is not None:
            # before = the previous round's after, so each model is measured once
            before = result.rounds[-1].get("eval_reward") if result.rounds else None
            if before is None:
                before = _policy_reward(recipe, model, eval_set)
            row["eval_reward_before"] = before
            row["eval_reward"] = (
                _policy_reward(recipe, _model_path(out, row["model"]), eval_set)
                if row["trained"]
                else before
            )
            say(f"round {number}: eval reward {before} -> {row['eval_reward']}")
        # written last: its presence is what marks the round finished
        _write_json(done, row)
        result.rounds.append(row)
        write_summary(out, result.rounds)
        model = _model_path(out, row["model"])
    write_summary(out, result.rounds)
    return result


def _run_round(
    recipe: IterateRecipe,
    number: int,
    part: PromptSet,
    model: str,
    folder: Path,
    *,
    progress: bool,
    say: Log,
) -> dict[str, Any]:
    from prefdata.pipeline import filter_pairs
    from prefdata.train.runner import train

    clock = time.perf_counter()
    prompts, shape = part.prompts, part.shape
    say(f"round {number}: sampling {len(prompts)} prompts x {recipe.samples_per_prompt}")
    completions, rewards = _sample_and_score(recipe, model, part, seed=recipe.seed + number)
    flat_scores = [score for scores in rewards for score in scores]
    pq.write_table(
        samples_table(prompts, completions, rewards, round=number), folder / "samples.parquet"
    )
    pairs, ties = best_worst_pairs(prompts, completions, rewards, shape=shape, round=number)
    pq.write_table(pairs, folder / "pairs.parquet")
    row: dict[str, Any] = {
        "round": number,
        "prompts": len(prompts),
        "samples": len(flat_scores),
        "mean_reward": round(sum(flat_scores) / len(flat_scores), 4),
        "pairs": pairs.num_rows,
        "ties": ties,
        "pairs_kept": 0,
        "mean_margin": None,
        "dpo_margin": None,
        "train_loss": None,
        "trained": False,
        "start_model": model,
        "model": model,
    }
    say(f"round {number}: mean reward {row['mean_reward']}, {pairs.num_rows} pairs, {ties} ties")
    if pairs.num_rows:
        report = filter_pairs(
            [folder / "pairs.parquet"], folder / "curated", config=recipe.filter_config()
        )
        row["pairs_kept"] = report.kept_rows
        row["dropped_reasons"] = report.reasons
    if row["pairs_kept"]:
        kept = pq.read_table(open_result(folder / "curated").kept)
        gaps = pc.subtract(kept.column("chosen_reward"), kept.column("rejected_reward"))
        row["mean_margin"] = round(pc.mean(gaps).as_py(), 4)
        say(f"round {number}: training on {row['pairs_kept']} kept pairs")
        trained = train(
            recipe.train_recipe(
                data=open_result(folder / "curated").kept, model=model, output_dir=folder / "model"
            ),
            progress=progress,
        )
        row.update(_train_figures(folder / "model"))
        row["train_loss"] = trained.train_metrics.get("train_loss")
        row["trained"] = trained.trained
        if not trained.trained:
            # the weights are the round's starting ones: say why and carry that model on
            row["not_trained_reason"] = trained.training.get("reason")
            say(f"round {number}: nothing trained: {row['not_trained_reason']}")
        elif (folder / "model" / "adapter_config.json").is_file():
            # the next round must start from this round's weights, and TRL would put a fresh
            # adapter on the original base if handed the adapter folder: merge it in
            from prefdata.train.export import merge_adapter

            merge_adapter(folder / "model", folder / MERGED)
            row["adapter"] = f"{folder.name}/model"
            row["model"] = f"{folder.name}/{MERGED}"
        else:
            # relative to the run folder, so a moved or copied run still resumes
            row["model"] = f"{folder.name}/model"
    else:
        # nothing to learn from this part: the next round starts from the same model
        row["not_trained_reason"] = "no pairs kept after the checks"
        say(f"round {number}: no pairs kept, the model carries over untrained")
    row["duration_s"] = round(time.perf_counter() - clock, 2)
    return row


def _sample_and_score(
    recipe: IterateRecipe, model: str, part: PromptSet, *, seed: int
) -> tuple[list[list[str]], list[list[float]]]:
    """k completions per prompt and their rewards, both nested per prompt."""
    from prefdata.train.hardware import release_accelerator_memory

    scorer = load_scorer(recipe.scorer)  # a missing reward model stops before sampling
    settings = SamplingSettings(
        samples_per_prompt=recipe.samples_per_prompt,
        temperature=recipe.temperature,
        top_p=recipe.top_p,
        max_new_tokens=recipe.max_new_tokens,
        seed=seed,
        batch_size=recipe.batch_size,
    )
    release_accelerator_memory()  # what the previous round's training held
    completions = sample(
        model, part.prompts, settings, generator=recipe.generator, vllm_options=recipe.vllm_options
    )
    k = settings.samples_per_prompt
    flat_prompts = [p for p in part.prompts for _ in range(k)]
    columns = {name: [v for v in values for _ in range(k)] for name, values in part.columns.items()}
    flat_scores = scorer(flat_prompts, [c for texts in completions for c in texts], **columns)
    return completions, [flat_scores[i * k : (i + 1) * k] for i in range(len(part))]


def _policy_reward(recipe: IterateRecipe, model: str, eval_set: PromptSet) -> float:
    """Mean reward of ``model``'s samples on the held-out prompts; one seed for every
    model, so the figures of successive rounds compare like with like."""
    _completions, rewards = _sample_and_score(recipe, model, eval_set, seed=recipe.seed)
    flat = [score for scores in rewards for score in scores]
    return round(sum(flat) / len(flat), 4)


def _model_path(out: Path, model: str) -> str:
    """A round's model: ``round_N/model`` (or ``round_N/merged``) inside the run folder,
    or the starting model."""
    inside = out / model
    return str(inside) if model.startswith("round_") and inside.is_dir() else model


def _train_figures(model_dir: Path) -> dict[str, Any]:
    """The last logged DPO reward margin of the round's training, if TRL logged one."""
    from prefdata.train.callbacks import read_metrics

    margins = [m["rewards/margins"] for m in read_metrics(model_dir) if "rewards/margins" in m]
    return {"dpo_margin": round(float(margins[-1]), 4) if margins else None}


def _check_resume(out: Path, recipe: IterateRecipe) -> None:
    run_file = out / RUN_FILE
    current = recipe.to_dict()
    # only finished rounds bind a run to its prompts; a run that failed before any may change
    if run_file.is_file() and any(out.glob(f"round_*/{ROUND_DONE}")):
        earlier = json.loads(run_file.read_text(encoding="utf-8"))
        changed = [k for k in RESUME_KEYS if str(earlier.get(k)) != str(current.get(k))]
        if changed:
            raise ConfigError(
                f"{out} holds a run with different {changed} ({[earlier.get(k) for k in changed]}"
                "): resume with the same prompts and rounds, or pick a new output_dir"
            )
    _write_json(run_file, current)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    temp.replace(path)
