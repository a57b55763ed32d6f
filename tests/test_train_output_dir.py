"""A run never lands silently on top of another: a non-empty output_dir is refused
without --resume or --overwrite, a resume must keep its checkpoint's recipe, and the
manifest of a resumed run describes the whole run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError
from prefdata.train.callbacks import read_metrics
from prefdata.train.run_folder import RUN_FILE, whole_run_loss
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def run(tmp_path: Path, settings: dict, *flags: str) -> tuple[int, str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["train", str(path), *flags])
    return result.exit_code, " ".join((result.stderr or "").split())


def test_a_non_empty_output_dir_is_refused_and_kept(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for flags in ((), ("--check",)):
        code, err = run(tmp_path, recipe(tiny, out), *flags)
        assert code == 2 and f"output_dir {out} is not empty (holds ['notes.txt'])" in err, err
        assert "--resume to continue its run, --overwrite to replace it" in err
    # --overwrite deletes only what looks like a training run
    code, err = run(tmp_path, recipe(tiny, out), "--overwrite")
    assert code == 2 and "does not look like a training run" in err, err
    assert (out / "notes.txt").read_text() == "mine"


def test_resume_and_overwrite_together_are_refused(tiny, tmp_path):
    code, err = run(tmp_path, recipe(tiny, tmp_path / "out"), "--resume", "--overwrite")
    assert code == 2 and "--resume and --overwrite contradict each other" in err


def test_whole_run_loss_weights_each_log_by_the_steps_it_covers():
    records = [{"step": 2, "loss": 1.0}, {"step": 3, "loss": 0.4}, {"step": 3, "eval_loss": 9}]
    assert whole_run_loss(records) == pytest.approx((2 * 1.0 + 0.4) / 3)
    assert whole_run_loss([{"step": 1, "eval_loss": 1.0}]) is None


@pytest.mark.slow
def test_resume_is_checked_against_the_checkpoint_and_covers_the_whole_run(tiny, tmp_path):
    out = tmp_path / "out"
    settings = recipe(tiny, out, save_strategy="steps", save_steps=2, max_steps=2)
    code, err = run(tmp_path, settings)
    assert code == 0, err
    saved = json.loads((out / "checkpoint-2" / RUN_FILE).read_text())
    assert saved["recipe"]["learning_rate"] == settings["learning_rate"]

    code, err = run(tmp_path, settings, "--resume")  # nothing left: not "3/2"
    assert code == 2 and "checkpoint-2 is at step 2, not before max_steps=2" in err, err
    code, err = run(tmp_path, {**settings, "max_steps": 4, "beta": 0.3}, "--resume")
    assert code == 2 and "the recipe differs from checkpoint-2's (beta: 0.1 -> 0.3)" in err, err
    code, err = run(tmp_path, {**settings, "max_steps": 4}, "--resume")
    assert code == 0, err

    manifest = json.loads((out / "manifest.json").read_text())
    losses = [r["loss"] for r in read_metrics(out) if "loss" in r]
    assert len(losses) == 4  # logging_steps 1: every step of both sessions
    metrics = manifest["train_metrics"]
    assert metrics["train_loss"] == pytest.approx(sum(losses) / 4)
    assert metrics["session_train_loss"] == pytest.approx(sum(losses[2:]) / 2, rel=1e-4)
    assert manifest["duration_s"] > saved["elapsed_s"] > 0

    code, err = run(tmp_path, {**settings, "save_strategy": "no"}, "--overwrite")
    assert code == 0, err
    assert not list(out.glob("checkpoint-*")), "the old run's checkpoints survived --overwrite"
    assert json.loads((out / "manifest.json").read_text())["resumed_from"] is None


def test_precision_set_by_the_machine_may_change_on_resume(tmp_path):
    import warnings

    from prefdata.train.notices import TrainingWarning
    from prefdata.train.run_folder import check_resume, resume_record

    folder = tmp_path / "checkpoint-2"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 2, "epoch": 0.5}))
    before = resume_record({"beta": 0.1, "bf16": False, "use_cpu": True}, "abc")
    (folder / RUN_FILE).write_text(json.dumps({"recipe": before, "elapsed_s": 3.5}))
    limits = {"max_steps": -1, "num_train_epochs": 1}
    with pytest.warns(TrainingWarning, match="other precision settings"):
        gpu = resume_record({"beta": 0.1, "bf16": True, "use_cpu": False}, "abc")
        assert check_resume(str(folder), gpu, limits) == 3.5
    refused = pytest.raises(ConfigError, match=r"data_sha256: 'abc' -> 'xyz'")
    with refused, warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        check_resume(str(folder), resume_record({"beta": 0.1}, "xyz"), limits)


def test_overwrite_deletes_nothing_when_the_preflight_fails(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a previous run
    code, err = run(
        tmp_path, recipe(tiny, out, data=str(tmp_path / "missing.parquet")), "--overwrite"
    )
    assert code == 2 and "data file not found" in err, err
    assert (out / "manifest.json").is_file()
