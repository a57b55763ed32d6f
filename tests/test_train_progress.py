"""Progress in a batch job's log: one plain line per logging step when stdout is not a
terminal (a rich bar prints nothing there until the end)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.train.callbacks import LineProgressCallback
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def test_one_line_per_logging_step():
    lines: list[str] = []
    callback = LineProgressCallback(write=lines.append)
    state = SimpleNamespace(is_world_process_zero=True, global_step=10, max_steps=40)
    callback.on_train_begin(None, state, None)
    callback.on_log(None, state, None, logs={"loss": 0.6931, "rewards/accuracies": 0.5})
    callback.on_log(None, state, None, logs={"total_flos": 1.0})  # nothing worth a line
    assert len(lines) == 1
    assert lines[0].startswith("step 10/40  loss 0.6931  rewards/accuracies 0.5")


@pytest.mark.slow
def test_the_cli_prints_each_step_when_not_a_terminal(tiny, tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(tiny, tmp_path / "out", max_steps=3)))
    result = CliRunner().invoke(app, ["train", str(path)])  # CliRunner's stdout is no TTY
    assert result.exit_code == 0, result.output
    steps = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("step ")]
    assert steps == ["1/3", "2/3", "3/3"], result.stdout
