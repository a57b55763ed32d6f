"""`prefdata iterate`: two rounds end to end on a tiny model with a rule-based reward,
resume after a stop, and scorer failures that stop a round and leave earlier ones alone."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError
from prefdata.iterate import ROUND_DONE, iterate, load_iterate_recipe
from prefdata.iterate.sampling import SamplingSettings, sample
from prefdata.train.manifest import resolve_path
from tests.train_support import FAST, tiny

__all__ = ["tiny"]

ROUND_FILES = (
    "samples.parquet",
    "pairs.parquet",
    "curated/kept.parquet",
    "curated/report.json",
    "model/config.json",
    "model/metrics.jsonl",
    "model/manifest.json",
    ROUND_DONE,
)


def iterate_recipe(tiny: dict[str, Path], out: Path, **settings: Any) -> dict[str, Any]:
    """Two rounds of 16 prompts, 4 samples each, scored by counting a target letter."""
    prompts, heldout = tiny["root"] / "prompts.parquet", tiny["root"] / "eval_prompts.parquet"
    if not prompts.exists():
        pq.write_table(pq.read_table(tiny["text"]).select(["prompt"]).slice(0, 32), prompts)
        pq.write_table(pq.read_table(tiny["heldout"]).select(["prompt"]).slice(0, 12), heldout)
    train = {k: v for k, v in FAST.items() if k != "per_device_eval_batch_size"}
    return {
        "model": str(tiny["model"]),
        "prompts": str(prompts),
        "eval_prompts": str(heldout),
        "output_dir": str(out),
        "rounds": 2,
        "samples_per_prompt": 4,
        "temperature": 1.0,
        "max_new_tokens": 12,
        "scorer": "tests.iterate_rewards:count_target",
        # tiny completions are short and random: only the identical-pair check applies
        "filter": {"min_chosen_chars": 1, "min_rejected_chars": 1, "max_similarity": 1.0},
        # DPO plus NLL on the chosen response, as Pang et al.; lr far above DPO practice
        "train": {
            **train,
            "learning_rate": 5e-3,
            "loss_type": ["sigmoid", "sft"],
            "loss_weights": [1.0, 1.0],
        },
        **settings,
    }


@pytest.fixture(scope="module")
def two_rounds(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iterate") / "run"
    iterate(iterate_recipe(tiny, out), progress=False)
    return out


@pytest.mark.slow
def test_two_rounds_write_their_files_and_the_reward_rises(two_rounds: Path) -> None:
    for number in (1, 2):
        folder = two_rounds / f"round_{number}"
        missing = [name for name in ROUND_FILES if not (folder / name).is_file()]
        assert not missing, f"round {number} lacks {missing}"
        done = json.loads((folder / ROUND_DONE).read_text())
        assert done["trained"] and done["model"] == f"round_{number}/model"
        assert done["samples"] == 16 * 4 and done["pairs"] + done["ties"] == 16
        pairs = pq.read_table(folder / "pairs.parquet").to_pylist()
        assert all(p["chosen_reward"] > p["rejected_reward"] for p in pairs)
        report = json.loads((folder / "curated" / "report.json").read_text())
        assert report["input_rows"] == done["pairs"]
        assert report["kept_rows"] == done["pairs_kept"] > 0
    # round 2 started from round 1's model and used it as the DPO reference
    model_dir = two_rounds / "round_2" / "model"
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["reference_model"] == "../../round_1/model"  # from the manifest's folder
    assert resolve_path(model_dir, manifest["reference_model"]) == two_rounds / "round_1" / "model"
    summary = json.loads((two_rounds / "summary.json").read_text())
    assert [row["round"] for row in summary] == [1, 2]
    csv_lines = (two_rounds / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("round,prompts,samples,mean_reward") and len(csv_lines) == 3
    # round 2 samples from the model round 1 trained: the letter it was rewarded for is
    # more frequent (measured: 2.31 -> 3.14 on 16 prompts x 4 samples)
    first, second = summary[0]["mean_reward"], summary[1]["mean_reward"]
    print(f"mean reward by round: {first} -> {second}")  # reported in the README
    assert second > first * 1.15, (first, second)
    # held-out prompts: each trained model measured once, the start model in round 1
    evals = [(row["eval_reward_before"], row["eval_reward"]) for row in summary]
    print(f"held-out reward (before, after) by round: {evals}")
    assert evals[1][0] == evals[0][1]
    assert evals[1][1] > evals[0][0] * 1.15, evals


@pytest.mark.slow
def test_a_finished_run_resumes_without_redoing_rounds(
    tiny: dict[str, Path], two_rounds: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(two_rounds, run)
    marker = run / "round_1" / ROUND_DONE
    before = marker.stat().st_mtime_ns
    result = CliRunner().invoke(
        app, ["iterate", str(_write_yaml(tmp_path, iterate_recipe(tiny, run))), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("finished earlier") == 2
    assert "final model -> " + str(run / "round_2" / "model") in " ".join(result.stdout.split())
    assert marker.stat().st_mtime_ns == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        ("tests.iterate_rewards:raises", "raised RuntimeError: the grader crashed"),
        ("tests.iterate_rewards:too_few", "returned 63 scores for 64 completions"),
        ("tests.iterate_rewards:not_numbers", "non-numeric score 'high'"),
        ("tests.no_such_module:fn", "cannot import module 'tests.no_such_module'"),
        ({"reward_model": "/nonexistent/rm"}, "scorer reward model not found"),
    ],
)
def test_a_failing_scorer_stops_the_round_and_keeps_earlier_rounds(
    tiny: dict[str, Path], two_rounds: Path, tmp_path: Path, scorer: Any, message: str
) -> None:
    run = tmp_path / "run"
    shutil.copytree(two_rounds, run)
    (run / "round_2" / ROUND_DONE).unlink()  # as if the run had stopped in round 2
    round_1 = {p: p.read_bytes() for p in (run / "round_1").rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=message):
        iterate(iterate_recipe(tiny, run, scorer=scorer), progress=False)
    assert {p: p.read_bytes() for p in (run / "round_1").rglob("*") if p.is_file()} == round_1
    assert not (run / "round_2" / ROUND_DONE).exists()
    assert not (run / "round_2" / "pairs.parquet").exists()


def test_sampling_continues_conversations_through_the_chat_template(
    tiny: dict[str, Path],
) -> None:
    prompts = [
        [{"role": "user", "content": "Repeat: apple river"}],
        [{"role": "user", "content": "Repeat: stone"}],
    ]
    settings = SamplingSettings(
        samples_per_prompt=3, temperature=1.0, top_p=0.9, max_new_tokens=5, seed=0, batch_size=2
    )
    first = sample(str(tiny["model"]), prompts, settings, generator="transformers")
    again = sample(str(tiny["model"]), prompts, settings, generator="transformers")
    assert [len(texts) for texts in first] == [3, 3]
    assert first == again  # the round's seed makes sampling repeatable
    assert all("<|" not in text for texts in first for text in texts)  # specials removed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"samples_per_prompt": 1}, "samples_per_prompt must be an integer >= 2"),
        ({"train": {"data": "x"}}, r"train must not set \['data'\]"),
        ({"train": {"learning_rat": 1e-3}}, "did you mean"),
        ({"train": {"loss_type": ["sigmoid", "nope"]}}, "loss_type must be one of"),
        ({"filter": {"min_chosen": 1}}, "unknown setting"),
        ({"scorer": "not a callable:x y"}, None),
        ({"scorer": {"callable": "m:f", "reward_model": "d"}}, "one of callable"),
        ({"generator": "sglang"}, "generator must be one of"),
        ({"top_p": 0}, "top_p must be in"),
        ({"roundz": 2}, r"unknown iterate recipe key\(s\) \['roundz'\]"),
    ],
)
def test_bad_recipes_fail_before_any_round(change: dict[str, Any], message: str | None) -> None:
    raw = {"model": "m", "prompts": "p.jsonl", "output_dir": "o", "scorer": "mod:fn", **change}
    if message is None:  # a string that is not module:function is a reward-model folder
        assert load_iterate_recipe(raw).scorer.reward_model == "not a callable:x y"
        return
    with pytest.raises(ConfigError, match=message):
        load_iterate_recipe(raw)


def _write_yaml(folder: Path, recipe: dict[str, Any]) -> Path:
    import yaml

    path = folder / "iterate.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_reward_model_folder_scores_prompt_and_completion(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    import transformers

    from prefdata.iterate.recipe import ScorerSpec
    from prefdata.iterate.scoring import load_scorer

    config = transformers.AutoConfig.from_pretrained(tiny["model"], num_labels=1)
    folder = tmp_path / "rm"
    transformers.AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny["model"]).save_pretrained(folder)
    scorer = load_scorer(ScorerSpec(reward_model=str(folder), batch_size=2))
    scores = scorer(["Repeat: apple\n"] * 3, ["apple", "apple, go away.", "stone"])
    assert len(scores) == 3 and len(set(scores)) == 3
    again = scorer(["Repeat: apple\n"], ["apple, go away."])  # padding must not change it
    assert again[0] == pytest.approx(scores[1], abs=1e-5)


def test_a_reward_model_takes_the_gpu_only_when_it_scores(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It is loaded before sampling, while vLLM's child process wants the GPU to itself."""
    import torch
    import transformers

    from prefdata.iterate.recipe import ScorerSpec
    from prefdata.iterate.scoring import load_scorer

    config = transformers.AutoConfig.from_pretrained(tiny["model"], num_labels=1)
    folder = tmp_path / "rm"
    transformers.AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny["model"]).save_pretrained(folder)
    moved: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: moved.append(str(a)) or self)
    scorer = load_scorer(ScorerSpec(reward_model=str(folder), batch_size=2))
    assert moved == []
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: self)
    scorer(["Repeat: apple\n"], ["apple"])
    assert moved == ["('cuda',)"]


def test_the_vllm_generator_names_its_extra_when_missing(tiny: dict[str, Path]) -> None:
    from prefdata.errors import MissingExtraError

    pytest.importorskip("torch")
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    settings = SamplingSettings(
        samples_per_prompt=2, temperature=1.0, top_p=1.0, max_new_tokens=2, seed=0
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'prefdata\[vllm\]'"):
        sample(str(tiny["model"]), ["Repeat: apple\n"], settings, generator="vllm")


@pytest.mark.slow
def test_resuming_with_other_prompts_is_refused(
    tiny: dict[str, Path], two_rounds: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(two_rounds, run)
    other = tmp_path / "other.parquet"
    pq.write_table(pq.read_table(tiny["text"]).select(["prompt"]).slice(32, 8), other)
    with pytest.raises(ConfigError, match=r"different \['prompts'\]"):
        iterate(iterate_recipe(tiny, run, prompts=str(other)), progress=False)
