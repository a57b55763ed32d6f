"""The output folder of a run: refused when it holds another run, and a resume that is
checked against the recipe its checkpoint was trained under.

Each checkpoint gets a ``prefdata_run.json`` (the recipe that matters for resuming and
the wall time spent so far), so ``--resume`` can name what changed and the manifest can
give the whole run's duration, not only the last session's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from prefdata.errors import ConfigError, InputError
from prefdata.train.notices import warn

RUN_FILE = "prefdata_run.json"
# what a previous run leaves; only a folder holding one of these is ever deleted by --overwrite
RUN_MARKERS = ("manifest.json", "metrics.jsonl", "checkpoint-*", "adapter_config.json")
# keys a resume may change: how long to go on, and how often to log, save and evaluate
RESUMABLE = (
    "max_steps",
    "num_train_epochs",
    "logging_steps",
    "save_steps",
    "save_strategy",
    "save_total_limit",
    "eval_steps",
    "report_to",
    "dataloader_num_workers",
    "output_dir",
)
# set from the machine unless the recipe names them: a resume on other hardware may change
# them, with a warning (the optimizer state carries over either way)
PRECISION_KEYS = ("bf16", "fp16", "use_cpu")


def prepare_output_dir(
    folder: str | Path, *, resume: bool, overwrite: bool, clear: bool = True
) -> None:
    """Refuse a non-empty folder unless resuming or overwriting; with ``clear``, empty it
    for --overwrite (``clear=False`` only checks, for --check)."""
    out = Path(folder)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: pick one")
    if resume or not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        held = sorted(p.name for p in out.iterdir())[:5]
        raise InputError(
            f"output_dir {out} is not empty (holds {held}): pass --resume to continue its run, "
            "--overwrite to replace it, or choose another output_dir"
        )
    if not any(any(out.glob(pattern)) for pattern in RUN_MARKERS):
        raise InputError(
            f"--overwrite refused: {out} does not look like a training run (no manifest.json, "
            "metrics.jsonl or checkpoint-*); empty it yourself or choose another output_dir"
        )
    if clear:
        shutil.rmtree(out)


def resume_record(recipe: dict[str, Any], data_sha256: str | None) -> dict[str, Any]:
    """What a resumed run must share with its checkpoint: the recipe less RESUMABLE keys."""
    kept = {k: v for k, v in recipe.items() if k not in RESUMABLE}
    return json.loads(json.dumps({**kept, "data_sha256": data_sha256}, default=str))


def check_resume(checkpoint: str, record: dict[str, Any], settings: dict[str, Any]) -> float:
    """Refuse a resume whose recipe differs from the checkpoint's; return seconds spent so far."""
    folder = Path(checkpoint)
    state_file = folder / "trainer_state.json"
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    step, epoch = state.get("global_step", 0), state.get("epoch", 0.0)
    max_steps = settings.get("max_steps", -1)
    if isinstance(max_steps, int) and max_steps > 0 and step >= max_steps:
        raise ConfigError(
            f"{folder.name} is at step {step}, not before max_steps={max_steps}: nothing left to "
            "train; raise max_steps, or --overwrite to start a new run"
        )
    epochs = settings.get("num_train_epochs")
    if max_steps in (-1, None) and isinstance(epochs, int | float) and epoch >= epochs:
        raise ConfigError(
            f"{folder.name} is at epoch {epoch:g}, not before num_train_epochs={epochs}: nothing "
            "left to train; raise num_train_epochs, or --overwrite to start a new run"
        )
    run_file = folder / RUN_FILE
    if not run_file.is_file():
        warn(f"{folder.name} has no {RUN_FILE} (written by an older prefdata): recipe not checked")
        return 0.0
    earlier = json.loads(run_file.read_text(encoding="utf-8"))
    before = earlier.get("recipe", {})
    changed = sorted(k for k in set(before) | set(record) if before.get(k) != record.get(k))
    moved = [k for k in changed if k in PRECISION_KEYS]
    if moved:
        shown = ", ".join(f"{k}: {before.get(k)!r} -> {record.get(k)!r}" for k in moved)
        warn(f"resuming {folder.name} with other precision settings ({shown}): other hardware?")
    changed = [k for k in changed if k not in PRECISION_KEYS]
    if changed:
        shown = ", ".join(f"{k}: {before.get(k)!r} -> {record.get(k)!r}" for k in changed[:4])
        raise ConfigError(
            f"--resume refused: the recipe differs from {folder.name}'s ({shown}); restore it, "
            "or --overwrite to start a new run"
        )
    return float(earlier.get("elapsed_s", 0.0))


def whole_run_loss(records: list[dict[str, Any]]) -> float | None:
    """Mean training loss over every logged step of the run, earlier sessions included.

    Each logged ``loss`` is the mean since the previous log, so it is weighted by the
    steps it covers; exact when the run ended on a logging step.
    """
    total = steps = 0.0
    last = 0
    for record in records:
        if isinstance(record.get("loss"), int | float) and record.get("step", 0) > last:
            total += record["loss"] * (record["step"] - last)
            steps += record["step"] - last
            last = record["step"]
    return total / steps if steps else None
