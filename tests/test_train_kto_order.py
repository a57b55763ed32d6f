"""KTO on paired data: the unpaired rows are shuffled with the run's seed, so the first
batch already holds desirable and undesirable examples."""

from __future__ import annotations

import pytest

from prefdata.train.data import unpaired_rows
from prefdata.train.runner import build_trainer, prepare
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def test_unpaired_rows_keep_every_response_once_in_a_seeded_order():
    rows = {"prompt": ["a", "b", "c"], "chosen": ["A+", "B+", "C+"], "rejected": ["A-", "B-", "C-"]}
    first = unpaired_rows(rows, seed=1)
    assert unpaired_rows(rows, seed=1) == first
    assert unpaired_rows(rows, seed=2) != first
    triples = sorted(zip(first["prompt"], first["completion"], first["label"], strict=True))
    assert triples == [
        ("a", "A+", True), ("a", "A-", False), ("b", "B+", True), ("b", "B-", False),
        ("c", "C+", True), ("c", "C-", False),
    ]  # fmt: skip


def test_the_first_kto_batch_holds_both_labels(tiny, tmp_path):
    settings = recipe(tiny, tmp_path / "kto", method="kto", per_device_train_batch_size=8)
    trainer = build_trainer(prepare(settings))
    batch = next(iter(trainer.get_train_dataloader()))
    labels = [bool(v) for v in batch["label"]]
    assert len(labels) == 8 and any(labels) and not all(labels), labels
    column = trainer.train_dataset["label"]
    assert sum(column) == len(column) // 2 == 64


@pytest.mark.parametrize("seed", [0, 7])
def test_the_order_follows_the_run_seed(tiny, tmp_path, seed):
    settings = recipe(tiny, tmp_path / "kto", method="kto", seed=seed)
    labels = build_trainer(prepare(settings)).train_dataset["label"]
    expected = unpaired_rows(
        {"prompt": [""] * 64, "chosen": [""] * 64, "rejected": [""] * 64}, seed=seed
    )
    assert labels == expected["label"]
