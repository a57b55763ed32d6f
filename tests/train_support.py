"""Helpers shared by the training tests: tiny offline models and learnable pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("trl")

from prefdata.train.demo_data import write_learnable_pairs
from prefdata.train.tiny_model import make_tiny_model

# fast settings for a tiny CPU run; lr far above the default so 2 epochs learn the set
FAST: dict[str, Any] = {
    "learning_rate": 1e-3,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "gradient_checkpointing": False,
    "max_length": 64,
    "logging_steps": 1,
    "save_strategy": "no",
    "num_train_epochs": 2,
    "dataloader_num_workers": 0,
}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model plus text and conversational learnable pair files (built once)."""
    root = tmp_path_factory.mktemp("tiny")
    text = write_learnable_pairs(root / "text.parquet", 64, shape="text", seed=1)
    chat = write_learnable_pairs(root / "chat.parquet", 64, shape="conversational", seed=2)
    heldout = write_learnable_pairs(root / "heldout.parquet", 32, shape="text", seed=99)
    make_tiny_model(text, root / "model")
    return {"root": root, "text": text, "chat": chat, "heldout": heldout, "model": root / "model"}


def recipe(tiny: dict[str, Path], out: Path, **settings: Any) -> dict[str, Any]:
    """A fast recipe over the tiny model and text pairs, with overrides."""
    return {
        "data": str(tiny["text"]),
        "model": str(tiny["model"]),
        "output_dir": str(out),
        **FAST,
        **settings,
    }


def write_pairs(path: Path, rows: dict[str, list[Any]]) -> Path:
    pq.write_table(pa.table(rows), path)
    return path
