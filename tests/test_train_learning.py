"""A learnable preference set is learned: held-out accuracy and `prefdata evaluate` agree."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.train import evaluate, train
from prefdata.train.demo_data import write_learnable_pairs
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["text", "chat"])
def test_dpo_learns_heldout_preference(tiny, tmp_path, shape):
    out = tmp_path / "dpo"
    result = train(recipe(tiny, out, data=str(tiny[shape]), eval_split=0.25), progress=False)
    assert result.eval_metrics["eval_rewards/accuracies"] >= 0.9

    heldout = tiny["heldout"]
    if shape == "chat":
        heldout = write_learnable_pairs(tmp_path / "h.parquet", 32, shape="conversational", seed=7)
    trained = evaluate(model=out, data=heldout, out=tmp_path / "margins.parquet")
    untrained = evaluate(model=tiny["model"], ref=tiny["model"], data=heldout)
    assert trained.reference == str(tiny["model"])  # read from the handoff manifest
    assert trained.accuracy >= 0.9 and trained.mean_margin > 0
    assert untrained.accuracy == 0.0 and untrained.mean_margin == 0.0  # a model vs itself
    table = pq.read_table(tmp_path / "margins.parquet")
    assert table.num_rows == 32 and {"id", "margin", "correct"} <= set(table.column_names)
    assert table.column("correct").to_pylist().count(True) == round(trained.accuracy * 32)


@pytest.mark.slow
def test_lora_adapter_is_judged_against_its_base(tiny, tmp_path):
    out = tmp_path / "lora"
    settings = recipe(tiny, out, lora={"r": 8, "lora_alpha": 16}, learning_rate=1e-2)
    train(settings, progress=False)
    assert (out / "adapter_config.json").is_file()
    result = evaluate(model=out, data=tiny["heldout"])
    assert result.reference.endswith("(adapter disabled)")
    assert result.accuracy >= 0.9


@pytest.mark.slow
def test_evaluate_cli(tiny, tmp_path):
    out = tmp_path / "dpo"
    train(recipe(tiny, out), progress=False)
    margins = tmp_path / "m.parquet"
    args = ["evaluate", "--model", str(out), "--data", str(tiny["heldout"]), "--out", str(margins)]
    result = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "accuracy 1.000" in result.stdout and margins.is_file()
    # the line says which margin, device and truncation the figures used
    assert "margin (dpo): beta * [(logp_c - ref_c) - (logp_r - ref_r)]" in result.stdout
    assert "cpu, max_length 64" in result.stdout


def test_evaluate_full_model_without_manifest_needs_ref(tiny, tmp_path):
    result = CliRunner().invoke(
        app, ["evaluate", "--model", str(tiny["model"]), "--data", str(tiny["heldout"])]
    )
    assert result.exit_code == 2
    assert "pass --ref" in " ".join(result.stderr.split())
