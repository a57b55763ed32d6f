"""`iterate` carries each round's weights into the next: with LoRA the adapter is merged
into the model that started the round; a round whose training moved nothing says so.
vLLM sampling runs in a child process (checked here with a stand-in `vllm` module)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from prefdata.iterate import iterate
from prefdata.iterate.sampling import SamplingSettings, sample
from prefdata.train import train
from prefdata.train.manifest import resolve_path
from tests.test_iterate import iterate_recipe
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def _logits(folder: Path, text: str = "Repeat: apple\n"):
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits[0]


def _distance(a: Path, b: Path) -> float:
    return float((_logits(a) - _logits(b)).abs().max())


@pytest.mark.slow
def test_lora_rounds_start_from_the_previous_rounds_weights(tiny, tmp_path):
    out = tmp_path / "run"
    settings = iterate_recipe(tiny, out, eval_prompts=None)
    settings["train"] = {
        **settings["train"],
        "lora": {"r": 8, "lora_alpha": 16, "target_modules": "all-linear"},
        "learning_rate": 2e-2,
    }
    result = iterate(settings, progress=False)
    first, second = result.rounds
    assert first["trained"] and second["trained"]
    assert first["model"] == "round_1/merged" and first["adapter"] == "round_1/model"
    assert second["start_model"] == str(out / "round_1" / "merged")
    # round 2's adapter sits on round 1's merged weights, which are its reference too
    manifest = json.loads((out / "round_2" / "model" / "manifest.json").read_text())
    assert resolve_path(out / "round_2" / "model", manifest["model"]["base"]) == (
        out / "round_1" / "merged"
    )
    assert manifest["reference_model"] == "base model (adapter disabled)"
    base, r1, r2 = tiny["model"], out / "round_1" / "merged", out / "round_2" / "merged"
    moved_1, moved_2 = _distance(base, r1), _distance(r1, r2)
    print(f"max logit change: round 1 {moved_1:.4f}, round 2 {moved_2:.4f}")
    assert moved_1 > 1e-3 and moved_2 > 1e-3
    assert result.final_model == str(r2)


@pytest.mark.slow
def test_a_step_at_lr_zero_is_not_called_trained(tiny, tmp_path):
    # one optimizer step, and the default warmup (10% of 1 step) holds it at lr 0
    result = train(recipe(tiny, tmp_path / "one", max_steps=1, warmup_steps=0.1), progress=False)
    assert not result.trained
    assert "learning rate stayed 0 over all 1 step(s)" in result.training["reason"]
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["training"]["trained"] is False

    out = tmp_path / "run"
    settings = iterate_recipe(tiny, out, eval_prompts=None, rounds=1)
    settings["train"] = {**settings["train"], "max_steps": 1, "warmup_steps": 0.1}
    row = iterate(settings, progress=False).rounds[0]
    assert row["trained"] is False and "learning rate stayed 0" in row["not_trained_reason"]
    assert row["model"] == str(tiny["model"])  # the next round starts from the same weights


FAKE_VLLM = """
import os

class SamplingParams:
    def __init__(self, n, temperature, top_p, max_tokens, seed):
        self.n = n

class _Out:
    def __init__(self, text):
        self.text = text

class _Result:
    def __init__(self, outputs):
        self.outputs = outputs

class LLM:
    def __init__(self, model, seed, **options):
        self.options = options

    def generate(self, prompts, params):
        return [
            _Result([_Out(f"pid={os.getpid()} tokens={len(p['prompt_token_ids'])} {i}")
                     for i in range(params.n)])
            for p in prompts
        ]
"""


@pytest.mark.slow
def test_vllm_samples_in_a_child_process(tiny, tmp_path, monkeypatch):
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    monkeypatch.syspath_prepend(str(tmp_path))  # the spawned child gets sys.path too
    settings = SamplingSettings(
        samples_per_prompt=2, temperature=1.0, top_p=1.0, max_new_tokens=4, seed=0
    )
    texts = sample(str(tiny["model"]), ["Repeat: apple\n", "Say: b\n"], settings, generator="vllm")
    assert len(texts) == 2 and all(len(t) == 2 for t in texts)
    pids = {t.split()[0] for group in texts for t in group}
    assert pids and f"pid={os.getpid()}" not in pids  # sampled in another process


@pytest.mark.slow
def test_export_model_merges_an_adapter_from_the_cli(tiny, tmp_path):
    from typer.testing import CliRunner

    from prefdata.cli.main import app
    from prefdata.train import evaluate

    adapter = tmp_path / "lora"
    train(recipe(tiny, adapter, lora={"r": 4, "lora_alpha": 8}, num_train_epochs=1), progress=False)
    merged = tmp_path / "merged"
    result = CliRunner().invoke(
        app, ["export-model", "--adapter", str(adapter), "--out", str(merged)]
    )
    assert result.exit_code == 0, result.output
    assert (merged / "model.safetensors").is_file() and not (
        merged / "adapter_config.json"
    ).exists()
    manifest = json.loads((merged / "manifest.json").read_text())
    assert resolve_path(merged, manifest["merged"]["adapter"]) == adapter
    # the merged model scores the pairs as the adapter does, against the same base
    from_adapter = evaluate(model=adapter, data=tiny["heldout"])
    from_merged = evaluate(model=merged, data=tiny["heldout"])
    assert from_merged.reference == str(tiny["model"])
    assert from_merged.mean_margin == pytest.approx(from_adapter.mean_margin, rel=1e-3, abs=1e-5)
    again = CliRunner().invoke(
        app, ["export-model", "--adapter", str(adapter), "--out", str(merged)]
    )
    assert again.exit_code == 2 and "is not empty" in " ".join(again.stderr.split())
