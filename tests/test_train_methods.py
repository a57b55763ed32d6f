"""Every method trains a tiny model on CPU and logs its metrics to metrics.jsonl."""

from __future__ import annotations

import pytest

from prefdata.train import train
from prefdata.train.callbacks import read_metrics
from tests.train_support import recipe, tiny

__all__ = ["tiny"]

# the curves every pairwise method logs under TRL's names
PAIRWISE = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")
PAIRWISE_LOGPS = ("logps/chosen", "logps/rejected", "learning_rate")

CASES = {
    "dpo-sigmoid": {"method": "dpo"},
    "dpo-ipo": {"method": "dpo", "loss_type": "ipo"},
    "dpo-multi-loss": {"method": "dpo", "loss_type": ["sigmoid", "sft"], "loss_weights": [1, 0.2]},
    "dpo-length-controls": {"method": "dpo", "loss_type": "sigmoid_norm", "ld_alpha": 0.5},
    "kto": {"method": "kto"},
    "orpo": {"method": "orpo"},
    "simpo": {"method": "simpo", "beta": 2.0, "simpo_gamma": 0.5},
    "rdpo": {"method": "rdpo", "rdpo_alpha": 0.05},
    "dpo-lora": {"method": "dpo", "lora": {"r": 4, "lora_alpha": 8}, "learning_rate": 5e-3},
    "dpo-precomputed-ref": {"method": "dpo", "precompute_ref_log_probs": True},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_method_trains_and_logs(tiny, tmp_path, case):
    out = tmp_path / case
    settings = recipe(tiny, out, num_train_epochs=1, **CASES[case])
    result = train(settings, progress=False)
    records = read_metrics(out)
    steps = [r for r in records if "loss" in r]
    # 64 pairs / batch 8, logged every step; KTO unpairs them into 128 examples
    assert len(steps) == (16 if case == "kto" else 8)
    expected = PAIRWISE + (() if case == "kto" else PAIRWISE_LOGPS)
    if case == "kto":  # KTO logs per-side rewards, not pairwise accuracies
        expected = ("loss", "rewards/chosen", "rewards/rejected", "logps/chosen", "learning_rate")
    # KTO batches can hold only desirable or only undesirable examples, so look at all steps
    logged = set().union(*steps)
    missing = [name for name in expected if name not in logged]
    assert not missing, f"{case} did not log {missing}: {sorted(logged)}"
    assert result.train_metrics["train_loss"] > 0
    saved = {p.name for p in out.iterdir()}
    weights = "adapter_model.safetensors" if "lora" in case else "model.safetensors"
    assert {weights, "tokenizer.json", "manifest.json", "metrics.jsonl"} <= saved
    if case == "rdpo":
        assert "rdpo/length_term" in steps[-1]
