"""R-DPO's length term enters the loss exactly as Park et al. (2024) write it."""

from __future__ import annotations

import math

import pytest

from prefdata.train import train
from prefdata.train.callbacks import read_metrics
from prefdata.train.pair_tokens import encode_pair
from prefdata.train.preflight import load_tokenizer
from tests.train_support import recipe, tiny, write_pairs

__all__ = ["tiny"]


@pytest.mark.slow
@pytest.mark.parametrize("precompute", [False, True])
def test_first_step_loss_is_softplus_of_the_length_term(tiny, tmp_path, precompute):
    # at step one the policy equals the reference, so the DPO logits are 0 and the loss is
    # -log sigmoid(-alpha * (|y_w| - |y_l|)) = softplus(alpha * (|y_w| - |y_l|))
    n, alpha = 16, 0.05
    rows = {
        "id": [str(i) for i in range(n)],
        "prompt": [f"Repeat: apple {'river ' * (i % 3)}\n" for i in range(n)],
        "chosen": [f"apple, thank you very much, {'stone ' * (i % 4)}" for i in range(n)],
        "rejected": ["apple, go away." for _ in range(n)],
    }
    data = write_pairs(tmp_path / "lengths.parquet", rows)
    tokenizer = load_tokenizer(tiny["model"])
    diffs = []
    for p, c, r in zip(rows["prompt"], rows["chosen"], rows["rejected"], strict=True):
        _, chosen, rejected = encode_pair(tokenizer, p, c, r)
        diffs.append(len(chosen) - len(rejected))
    expected = sum(math.log1p(math.exp(alpha * d)) for d in diffs) / n
    assert expected > math.log(2) + 0.1  # the term matters here

    out = tmp_path / "rdpo"
    settings = recipe(
        tiny, out, data=str(data), method="rdpo", rdpo_alpha=alpha, num_train_epochs=1,
        per_device_train_batch_size=n, precompute_ref_log_probs=precompute,
    )  # fmt: skip
    train(settings, progress=False)
    first = read_metrics(out)[0]
    assert first["loss"] == pytest.approx(expected, rel=1e-4)
    assert first["rdpo/length_term"] == pytest.approx(alpha * sum(diffs) / n, rel=1e-4)
