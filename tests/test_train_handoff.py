"""The handoff folder: model, tokenizer, metrics.jsonl, plots, manifest; and resuming."""

from __future__ import annotations

import hashlib
import json
import shutil
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.train import train
from prefdata.train.callbacks import read_metrics
from prefdata.train.data import load_pairs
from prefdata.train.manifest import describe_data, resolve_path
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


@pytest.mark.slow
def test_handoff_folder_holds_everything_a_reviewer_needs(tiny, tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    shutil.copy(tiny["text"], curated / "kept.parquet")
    report = {"input_rows": 70, "kept_rows": 64, "dropped_rows": 6, "reasons": {"x": 6}}
    (curated / "report.json").write_text(json.dumps(report))
    out = tmp_path / "out"
    train(recipe(tiny, out, data=str(curated), num_train_epochs=1, beta=0.2), progress=False)

    manifest = json.loads((out / "manifest.json").read_text())
    data = manifest["data"]
    assert data["sha256"] == hashlib.sha256((curated / "kept.parquet").read_bytes()).hexdigest()
    assert data["rows"] == 64 and data["curation_report"] == report
    assert manifest["recipe"]["beta"] == 0.2 and manifest["beta"] == 0.2
    assert manifest["recipe"]["warmup_steps"] == 0.1  # prefdata default recorded
    assert manifest["hardware"]["device"] == "cpu" and manifest["recipe"]["use_cpu"] is True
    assert manifest["libraries"]["trl"] and manifest["duration_s"] > 0
    # paths resolve from the manifest's folder, wherever the tree is moved or read from
    assert resolve_path(out, manifest["reference_model"]) == tiny["model"]
    assert resolve_path(out, data["path"]) == curated / "kept.parquet"
    assert (
        manifest["model"]["base_config_sha256"]
        == hashlib.sha256((tiny["model"] / "config.json").read_bytes()).hexdigest()
    )
    assert "prefdata_git_commit" in manifest and manifest["command"]
    assert manifest["training"]["trained"] and manifest["training"]["steps"] == 8

    records = read_metrics(out)
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 9))
    plots = {p.name for p in (out / "plots").iterdir()}
    assert {"loss.png", "rewards_accuracies.png", "rewards_margins.png"} <= plots
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()


def test_a_folder_of_parts_is_described_like_one_file(tiny, tmp_path):
    """A Ray result's kept/ folder trains as data: its manifest entry (written before
    training, for the resume record) counts and hashes every part."""
    table = pq.read_table(tiny["text"])
    kept = tmp_path / "kept"
    kept.mkdir()
    pq.write_table(table.slice(0, 40), kept / "part-000000.parquet")
    pq.write_table(table.slice(40), kept / "part-000001.parquet")
    info = describe_data(load_pairs(kept))
    assert info["rows"] == info["rows_used"] == 64
    parts = b"".join(p.read_bytes() for p in sorted(kept.iterdir()))
    assert info["sha256"] == hashlib.sha256(parts).hexdigest()


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tiny, tmp_path):
    out = tmp_path / "out"
    settings = recipe(tiny, out, save_strategy="steps", save_steps=2, max_steps=4)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(settings))
    runner = CliRunner()
    first = runner.invoke(app, ["train", str(path)])
    assert first.exit_code == 0, first.output
    assert (out / "checkpoint-4").is_dir()

    settings["max_steps"] = 6
    path.write_text(yaml.safe_dump(settings))
    second = runner.invoke(app, ["train", str(path), "--resume"])
    assert second.exit_code == 0, second.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_from"].endswith("checkpoint-4")
    steps = [r["step"] for r in read_metrics(out) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing logged twice, nothing lost


def test_resume_without_checkpoint_is_one_clear_error(tiny, tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(tiny, tmp_path / "out")))
    result = CliRunner().invoke(app, ["train", str(path), "--resume"])
    assert result.exit_code == 2
    assert "nothing to resume: no checkpoint-*" in " ".join(result.stderr.split())


def test_progress_display_shows_the_headline_metrics():
    from prefdata.train.callbacks import RichProgressCallback

    state = SimpleNamespace(is_world_process_zero=True, max_steps=4, global_step=0)
    callback = RichProgressCallback()
    callback.on_train_begin(None, state, None)
    progress = callback.progress
    state.global_step = 2
    callback.on_step_end(None, state, None)
    callback.on_log(None, state, None, logs={"loss": 0.5, "rewards/accuracies": 0.75})
    task = progress.tasks[0]
    assert task.completed == 2 and task.total == 4
    assert task.fields["metrics"] == "loss 0.5  accuracies 0.75"
    callback.on_train_end(None, state, None)
    assert callback.progress is None
