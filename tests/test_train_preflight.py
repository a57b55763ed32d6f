"""Each way a run can be wrong gives one clear message before any model is loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import InputError
from prefdata.schema import REASONS
from prefdata.train.data import load_pairs
from prefdata.train.notices import TrainingWarning
from prefdata.train.pair_tokens import prompt_length
from prefdata.train.preflight import check_tokenizer, limit_prompts, load_tokenizer
from prefdata.train.runner import prepare
from tests.train_support import recipe, tiny, write_pairs

__all__ = ["tiny"]  # the fixture, imported for pytest


def run_train(tmp_path: Path, settings: dict) -> tuple[int, str]:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["train", str(path)])
    return result.exit_code, result.stderr


def assert_one_clear_error(code: int, stderr: str, expected: str, out: Path) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    # rich wraps long lines at the terminal width; the message is one logical line
    assert len(errors) == 1 and expected in " ".join(stderr.split()), stderr
    assert not out.exists(), "training started"


def test_recipe_error(tiny, tmp_path):
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, lerning_rate=1e-6))
    assert_one_clear_error(code, err, "unknown recipe key(s) ['lerning_rate']", out)


def test_missing_model_folder(tiny, tmp_path):
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, model=str(tmp_path / "nowhere")))
    assert_one_clear_error(code, err, "model folder not found", out)


def test_missing_data(tiny, tmp_path):
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, data=str(tmp_path / "none.parquet")))
    assert_one_clear_error(code, err, "data file not found", out)


def test_conversations_need_a_chat_template(tiny, tmp_path):
    model = tmp_path / "no-template"
    shutil.copytree(tiny["model"], model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, data=str(tiny["chat"]), model=str(model)))
    assert_one_clear_error(code, err, "has no chat template", out)


def test_empty_dataset(tiny, tmp_path):
    empty = pq.read_table(tiny["text"]).slice(0, 0)
    pq.write_table(empty, tmp_path / "empty.parquet")
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, data=str(tmp_path / "empty.parquet")))
    assert_one_clear_error(code, err, "the dataset is empty", out)


def test_not_canonical(tiny, tmp_path):
    data = write_pairs(tmp_path / "raw.parquet", {"prompt": ["p"], "answer": ["a"]})
    out = tmp_path / "out"
    code, err = run_train(tmp_path, recipe(tiny, out, data=str(data)))
    assert_one_clear_error(code, err, "is not canonical: no column(s) ['id', 'chosen'", out)


def test_folder_data_means_kept_parquet(tiny, tmp_path):
    folder = tmp_path / "curated"
    folder.mkdir()
    shutil.copy(tiny["text"], folder / "kept.parquet")
    assert len(load_pairs(folder)) == 64
    with pytest.raises(InputError, match=r"no kept\.parquet in folder"):
        load_pairs(tmp_path)


def test_all_prompts_dropped_is_an_empty_dataset(tiny, tmp_path):
    settings = recipe(tiny, tmp_path / "out", max_prompt_length=1, prompt_overflow="drop")
    with pytest.warns(TrainingWarning), pytest.raises(InputError, match="no pairs left"):
        prepare(settings)


def test_tokenizer_without_eos_is_refused(tiny):
    pairs = load_pairs(tiny["text"])
    fake = SimpleNamespace(eos_token=None, pad_token=None, chat_template=None)
    with pytest.raises(InputError, match="has no EOS token"):
        check_tokenizer(fake, pairs, model="m")


def test_missing_pad_falls_back_to_eos_with_a_warning(tiny):
    pairs = load_pairs(tiny["text"])
    fake = SimpleNamespace(eos_token="</s>", pad_token=None, chat_template=None)
    with pytest.warns(TrainingWarning, match="no pad token"):
        check_tokenizer(fake, pairs, model="m")
    assert fake.pad_token == "</s>"


@pytest.mark.parametrize("shape", ["text", "chat"])
def test_truncate_left_keeps_the_prompt_end(tiny, shape):
    tokenizer = load_tokenizer(tiny["model"])
    pairs = load_pairs(tiny[shape])
    lengths = [prompt_length(tokenizer, p) for p in pairs.table.column("prompt").to_pylist()]
    limit = max(lengths) - 2
    with pytest.warns(TrainingWarning, match="cut from the left"):
        limited = limit_prompts(pairs, tokenizer, limit, "truncate_left")
    assert len(limited.pairs) == len(pairs) and limited.truncated > 0
    before = pairs.table.column("prompt").to_pylist()
    after = limited.pairs.table.column("prompt").to_pylist()
    for old, new in zip(before, after, strict=True):
        assert prompt_length(tokenizer, new) <= limit
        if isinstance(old, str):
            assert old.endswith(new)
        else:
            assert old[-1]["content"].endswith(new[-1]["content"])


def test_drop_mode_drops_with_a_reason(tiny):
    tokenizer = load_tokenizer(tiny["model"])
    pairs = load_pairs(tiny["text"])
    lengths = [prompt_length(tokenizer, p) for p in pairs.table.column("prompt").to_pylist()]
    limit = sorted(lengths)[len(lengths) // 2]
    with pytest.warns(TrainingWarning, match="dropped"):
        limited = limit_prompts(pairs, tokenizer, limit, "drop")
    expected_drops = sum(n > limit for n in lengths)
    assert limited.dropped is not None and limited.dropped.num_rows == expected_drops
    assert len(limited.pairs) + expected_drops == len(pairs)
    assert limited.dropped.column(REASONS).to_pylist()[0] == ["prompt_too_long"]
    assert limited.counts == {"truncated": 0, "dropped": expected_drops, "limit": limit}


def test_length_warnings_count_what_trl_would_drop_or_truncate(tiny, tmp_path):
    long_prompt = "Repeat: " + "apple river " * 40
    rows = {
        "id": ["a", "b", "c"],
        "prompt": [long_prompt, "Repeat: apple\n", "Repeat: stone\n"],
        "chosen": ["apple, thank you.", "apple, thank you." * 20, "stone, thank you."],
        "rejected": ["apple, go away.", "apple, go away.", "stone, go away."],
    }
    data = write_pairs(tmp_path / "long.parquet", rows)
    with pytest.warns(TrainingWarning) as caught:
        prep = prepare(recipe(tiny, tmp_path / "out", data=str(data), learning_rate=5e-7))
    messages = " ".join(str(w.message) for w in caught)
    assert "1 of 3 train pair(s) have a prompt of >= max_length=64" in messages
    assert "1 of 3 train pair(s) are longer than max_length=64" in messages
    stats = prep.report["lengths"]["train"]
    assert stats["prompt_fills_max_length"] == 1 and stats["truncated_by_max_length"] == 1


def test_eval_split_holds_out_pairs(tiny, tmp_path):
    prep = prepare(recipe(tiny, tmp_path / "out", eval_split=0.25, learning_rate=5e-7))
    assert prep.eval is not None and (len(prep.train), len(prep.eval)) == (48, 16)
    train_ids = set(prep.train.table.column("id").to_pylist())
    assert not train_ids & set(prep.eval.table.column("id").to_pylist())


def test_check_flag_loads_no_model(tiny, tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(tiny, tmp_path / "out", learning_rate=5e-7)))
    result = CliRunner().invoke(app, ["train", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "pre-flight ok: 64 training pairs" in result.stdout
    assert not (tmp_path / "out").exists()


def test_pairs_table_survives(tiny):
    pairs = load_pairs(tiny["chat"])
    assert pairs.shape == "conversational"
    assert isinstance(pairs.table, pa.Table)
