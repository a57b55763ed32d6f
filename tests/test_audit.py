"""`prefdata audit`: planted label flips in a learnable set rise to the top of the
review queue after training on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError
from prefdata.train import train
from prefdata.train.audit import audit
from prefdata.train.demo_data import learnable_pairs
from tests.train_support import recipe, tiny

__all__ = ["tiny"]

PAIRS, PLANTED = 64, 8


def plant_flips(path: Path, *, seed: int = 3) -> set[str]:
    """The learnable set with PLANTED pairs' chosen and rejected swapped; their ids."""
    table = learnable_pairs(PAIRS, seed=5)
    flipped = np.random.default_rng(seed).choice(PAIRS, size=PLANTED, replace=False)
    chosen, rejected = table.column("chosen").to_pylist(), table.column("rejected").to_pylist()
    for i in flipped:
        chosen[i], rejected[i] = rejected[i], chosen[i]
    table = table.set_column(2, "chosen", pa.array(chosen)).set_column(
        3, "rejected", pa.array(rejected)
    )
    pq.write_table(table.append_column("source", pa.array(["demo"] * PAIRS)), path)
    ids = table.column("id").to_pylist()
    return {ids[i] for i in flipped}


@pytest.mark.slow
def test_planted_flips_top_the_review_queue(tiny: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "noisy.parquet"
    planted = plant_flips(data)
    model = tmp_path / "dpo"
    train(recipe(tiny, model, data=str(data)), progress=False)
    out = tmp_path / "audit.parquet"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "--model",
            str(model),
            "--ref",
            str(tiny["model"]),
            "--data",
            str(data),
            "--out",
            str(out),
            "--top",
            "16",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "queued for review" in result.stdout
    queue = pq.read_table(out)
    assert queue.num_rows == 16
    assert queue.column_names[:4] == ["id", "prompt", "chosen", "rejected"]
    assert {"source", "margin", "audit_rank"} <= set(queue.column_names)
    assert queue.column("audit_rank").to_pylist() == list(range(1, 17))
    margins = queue.column("margin").to_pylist()
    assert margins == sorted(margins)
    top = queue.column("id").to_pylist()[:PLANTED]
    precision = len(planted & set(top)) / PLANTED
    print(f"precision@{PLANTED} = {precision:.3f}")  # reported in the README
    assert precision >= 0.75


def test_top_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top must be an integer >= 1"):
        audit(model=tmp_path, data=tmp_path, top=0)


def test_audit_cli_errors_are_one_line(tmp_path: Path) -> None:
    data = tmp_path / "pairs.parquet"
    plant_flips(data)
    args = ["audit", "--model", str(tmp_path / "missing"), "--data", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "model folder not found" in " ".join(result.stderr.split())
