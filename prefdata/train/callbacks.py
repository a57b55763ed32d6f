"""Trainer callbacks: every logged step to metrics.jsonl, and a rich progress display."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from prefdata.errors import require
from prefdata.train.run_folder import RUN_FILE

transformers = require("transformers", "train")

METRICS_FILE = "metrics.jsonl"
# the curves a reviewer looks at first, in TRL's own names
HEADLINE = ("loss", "rewards/accuracies", "rewards/margins")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a gap in the curve says the same
    return value


class MetricsFileCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """Append each log record (step, epoch and TRL's metrics) as one JSON line."""

    def __init__(self, output_dir: str | Path) -> None:
        self.path = Path(output_dir) / METRICS_FILE

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if state.global_step and self.path.exists():
            # resumed: forget steps logged after the checkpoint, they will be logged again
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line).get("step", 0) <= state.global_step]
            self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        elif not state.global_step:
            self.path.write_text("", encoding="utf-8")

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, **{k: _clean(v) for k, v in logs.items()}}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


class RichProgressCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """A rich progress bar with the latest loss, reward accuracy and margin."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, metrics=""
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if self.progress is None or not logs:
            return
        shown = [
            f"{name.split('/')[-1]} {logs[name]:.3g}"
            for name in HEADLINE
            if isinstance(logs.get(name), int | float)
        ]
        if shown:
            self.progress.update(self.task, metrics="  ".join(shown))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class LineProgressCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """One plain line per logging step, for logs that are not a terminal (batch jobs),
    where a progress bar prints nothing until the end."""

    def __init__(self, write: Any = None) -> None:
        self.write = write or (lambda line: print(line, flush=True))
        self.started = time.perf_counter()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        shown = [
            f"{name} {logs[name]:.4g}"
            for name in (*HEADLINE, "eval_loss", "eval_rewards/accuracies", "learning_rate")
            if isinstance(logs.get(name), int | float)
        ]
        if not shown:
            return
        elapsed = time.perf_counter() - self.started
        self.write(
            f"step {state.global_step}/{state.max_steps}  " + "  ".join(shown) + f"  {elapsed:.0f}s"
        )


class RunRecordCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """Writes prefdata_run.json (the resume record and the run's wall time so far) into
    every checkpoint the trainer saves."""

    def __init__(
        self, output_dir: str | Path, record: dict[str, Any], earlier_s: float, *, started: float
    ) -> None:
        self.output_dir = Path(output_dir)
        self.record = record
        self.earlier_s = earlier_s  # wall time of the sessions before this one
        self.started = started  # time.perf_counter() when this session began

    def elapsed(self) -> float:
        return round(self.earlier_s + time.perf_counter() - self.started, 2)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        folder = self.output_dir / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            data = {"recipe": self.record, "elapsed_s": self.elapsed(), "step": state.global_step}
            (folder / RUN_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")


class StepWatchCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """Counts optimizer steps and the largest learning rate any of them used: a run whose
    warmup covers every step (one step at lr 0) trains nothing and must say so."""

    def __init__(self) -> None:
        self.steps = 0
        self.max_lr = 0.0

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # the rate optimizer.step() is about to use; the scheduler moves it afterwards
        optimizer = kwargs.get("optimizer")
        if optimizer is not None:
            rates = [float(group.get("lr", 0.0)) for group in optimizer.param_groups]
            self.max_lr = max([self.max_lr, *rates])

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1

    def summary(self, global_step: int) -> dict[str, Any]:
        """``trained`` and, when false, why; the figures behind it."""
        reason = None
        if self.steps == 0:
            reason = "no optimizer step ran (fewer pairs than one batch, or max_steps reached)"
        elif self.max_lr == 0:
            reason = (
                f"the learning rate stayed 0 over all {self.steps} step(s): warmup covers the "
                "whole run; lower warmup_steps/warmup_ratio or train more steps"
            )
        return {
            "trained": reason is None,
            "reason": reason,
            "steps": self.steps,
            "global_step": global_step,
            "max_learning_rate": self.max_lr,
        }


def read_metrics(output_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a handoff folder's metrics.jsonl."""
    path = Path(output_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
