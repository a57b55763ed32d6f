"""`evaluate` measures what the trainer measured (same pairs, truncation and the method's
own margin), from any working directory, with log-probs gathered a chunk at a time."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata.train import evaluate, train
from prefdata.train.logprobs import Sequence, pick_device, response_logps, truncate
from prefdata.train.margins import margin_rule
from prefdata.train.pair_tokens import encode_pair
from prefdata.train.preflight import load_tokenizer
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def test_truncation_follows_trls_modes():
    assert truncate([1, 2, 3], [4, 5, 6], 4, "keep_start") == Sequence([1, 2, 3, 4], 3)
    assert truncate([1, 2, 3], [4, 5, 6], 4, "keep_end") == Sequence([3, 4, 5, 6], 1)
    assert truncate([1, 2, 3], [4, 5, 6], 2, "keep_start") == Sequence([1, 2], 2)
    assert truncate([1, 2], [3], None, "keep_start") == Sequence([1, 2, 3], 2)


def test_chunked_logps_equal_a_full_log_softmax(tiny):
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(tiny["model"])).eval()
    tokenizer = load_tokenizer(tiny["model"])
    row = pq.read_table(tiny["text"]).slice(0, 3).to_pylist()
    sequences = []
    for pair in row:
        p, c, r = encode_pair(tokenizer, pair["prompt"], pair["chosen"], pair["rejected"])
        sequences += [Sequence(p + c, len(p)), Sequence(p + r, len(p))]
    sequences.append(Sequence(p + c, len(p) + 3))  # responses start at different positions
    assert len({s.start for s in sequences}) > 1
    pad = tokenizer.pad_token_id or 0
    chunked, counts = response_logps(model, sequences, pad, chunk_tokens=3)
    for seq, value, count in zip(sequences, chunked, counts, strict=True):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([seq.ids])).logits[0]
        full = torch.log_softmax(logits.float(), -1)[:-1].gather(
            -1, torch.tensor(seq.ids[1:])[:, None]
        )[:, 0]
        assert value == pytest.approx(float(full[seq.start - 1 :].sum()), abs=1e-4)
        assert count == len(seq.ids) - seq.start


def test_the_device_is_the_gpu_when_there_is_one(monkeypatch):
    import torch

    assert pick_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda" and pick_device("cpu") == "cpu"


def test_a_device_that_cannot_run_is_one_line(tiny, tmp_path):
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    for device, said in (("gpu", "--device 'gpu' is not a torch device"), ("cuda", "no CUDA")):
        flags = ["--model", str(tiny["model"]), "--data", str(tiny["heldout"]), "--device", device]
        result = CliRunner().invoke(app, ["evaluate", *flags])
        err = " ".join((result.stderr or "").split())
        assert result.exit_code == 2 and said in err, result.output


def test_each_method_names_its_own_margin():
    assert margin_rule({"method": "dpo"}).uses_reference
    simpo = margin_rule({"method": "simpo"})
    assert not simpo.uses_reference and simpo.average
    rdpo = margin_rule({"method": "rdpo", "recipe": {"rdpo_alpha": 0.02}})
    assert rdpo.length_alpha == 0.02
    assert not margin_rule({"method": "cpo", "trainer_config": {"loss_type": "sigmoid"}}).average


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "simpo", "rdpo", "orpo", "cpo"])
def test_evaluate_agrees_with_the_trainers_own_eval(tiny, tmp_path, method):
    """Held-out pairs with 12 of 32 labels flipped (so accuracy is not simply 1.0), and
    max_length cutting responses."""
    table = pq.read_table(tiny["heldout"])
    flip = [i < 12 for i in range(table.num_rows)]
    chosen, rejected = table.column("chosen").to_pylist(), table.column("rejected").to_pylist()
    swapped = {
        "chosen": [r if f else c for c, r, f in zip(chosen, rejected, flip, strict=True)],
        "rejected": [c if f else r for c, r, f in zip(chosen, rejected, flip, strict=True)],
    }
    for name, values in swapped.items():
        table = table.set_column(table.column_names.index(name), name, pa.array(values))
    heldout = tmp_path / "heldout.parquet"
    pq.write_table(table, heldout)
    out = tmp_path / method
    settings = recipe(
        tiny, out, method=method, eval_data=str(heldout), num_train_epochs=1,
        max_length=20, warmup_steps=0,
    )  # fmt: skip
    if method == "simpo":
        settings["beta"] = 2.0
    result = train(settings, progress=False)
    trainer_accuracy = result.eval_metrics["eval_rewards/accuracies"]
    mine = evaluate(model=out, data=heldout)
    assert mine.max_length == 20 and mine.method == method
    assert mine.table.column("chosen_tokens").to_numpy().max() < 20  # truncation applied
    print(f"{method}: trainer {trainer_accuracy}, evaluate {mine.accuracy}")
    assert 0 < trainer_accuracy < 1, trainer_accuracy  # a figure that can disagree
    assert mine.accuracy == pytest.approx(trainer_accuracy, abs=1e-6)
    assert mine.mean_margin == pytest.approx(result.eval_metrics["eval_rewards/margins"], rel=1e-3)


@pytest.mark.slow
def test_evaluate_from_another_working_directory(tiny, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(tiny["model"], work / "tiny")
    shutil.copy(tiny["text"], work / "pairs.parquet")
    monkeypatch.chdir(work)
    for name, extra in (("dpo", {}), ("lora", {"lora": {"r": 4, "lora_alpha": 8}})):
        settings = recipe(tiny, tmp_path, model="tiny", data="pairs.parquet", **extra)
        settings.update(output_dir=f"runs/{name}", num_train_epochs=1)
        train(settings, progress=False)
    manifest = json.loads((work / "runs" / "dpo" / "manifest.json").read_text())
    assert (
        manifest["model"]["base"] == "../../tiny"
        and manifest["data"]["path"] == "../../pairs.parquet"
    )
    assert manifest["model"]["base_config_sha256"] and manifest["command"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    full = evaluate(model="../work/runs/dpo", data=tiny["heldout"])
    assert full.reference.endswith("work/tiny") and full.accuracy > 0.5
    adapter = evaluate(model="../work/runs/lora", data=tiny["heldout"])
    assert adapter.reference.endswith("work/tiny (adapter disabled)")
