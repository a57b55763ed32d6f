"""Recipe keys, defaults and warnings; nothing here loads a model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prefdata.errors import ConfigError
from prefdata.train.notices import TrainingWarning
from prefdata.train.recipe import load_recipe, method_defaults, warn_unusual

pytest.importorskip("trl")

BASE = {"data": "d.parquet", "model": "m", "output_dir": "o"}


def test_trl_fields_pass_through_at_top_level():
    r = load_recipe({**BASE, "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.2]})
    assert r.method == "dpo"
    assert r.settings == {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.2]}


def test_defaults_follow_the_issue():
    r = load_recipe(BASE)
    d = method_defaults(r)
    assert (d["beta"], d["learning_rate"], d["num_train_epochs"]) == (0.1, 5e-7, 1)
    assert d["warmup_steps"] == 0.1  # a ratio: transformers 5 has no warmup_ratio


def test_warmup_ratio_is_accepted_as_alias():
    assert load_recipe({**BASE, "warmup_ratio": 0.05}).settings["warmup_steps"] == 0.05


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"lerning_rate": 1e-6}, "did you mean ['learning_rate'"),
        ({"simpo_gamma": 0.5}, "belongs to method(s) ['simpo', 'cpo']"),
        ({"loss_type": "sigmo"}, "loss_type must be one of ['sigmoid'"),
        ({"loss_type": ["sigmoid", "nope"]}, "got 'nope'"),
        ({"method": "ppo"}, "method must be one of"),
        ({"method": "simpo", "loss_type": "ipo"}, "method 'simpo' sets loss_type='simpo'"),
        ({"prompt_overflow": "cut"}, "prompt_overflow must be one of ['truncate_left', 'drop']"),
        ({"max_prompt_length": 0}, "max_prompt_length must be an integer >= 1"),
        ({"eval_split": 1.5}, "eval_split must be between 0 and 1"),
        ({"eval_split": 0.1, "eval_data": "e.parquet"}, "not both"),
        ({"rdpo_alpha": 0.1}, "rdpo_alpha applies to method 'rdpo' only"),
        ({"lora": [16]}, "lora must be a mapping"),
    ],
)
def test_bad_recipes_name_the_key_and_the_choices(extra, message):
    with pytest.raises(ConfigError) as info:
        load_recipe({**BASE, **extra})
    assert message in str(info.value)


def test_missing_required_keys():
    with pytest.raises(ConfigError, match=r"recipe has no \['model'\]"):
        load_recipe({"data": "d", "output_dir": "o"})


def test_simpo_and_rdpo_defaults():
    simpo = load_recipe({**BASE, "method": "simpo"})
    assert method_defaults(simpo)["loss_type"] == "simpo"
    assert method_defaults(simpo)["cpo_alpha"] == 0.0
    assert load_recipe({**BASE, "method": "rdpo"}).rdpo_alpha == 0.01


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: d\nmodel: m\noutput_dir: o\nbeta: 0.2\n")
    r = load_recipe(path, output_dir="elsewhere")
    assert r.output_dir == "elsewhere" and r.settings["beta"] == 0.2


def test_unusual_values_warn_once_each_and_do_not_refuse():
    method = load_recipe(BASE).method_spec
    with pytest.warns(TrainingWarning) as caught:
        warn_unusual({"beta": 5.0, "learning_rate": 1e-3, "num_train_epochs": 10}, method)
    text = [str(w.message) for w in caught]
    assert len(text) == 3
    assert any("beta=5.0" in t for t in text) and any("num_train_epochs=10" in t for t in text)


def test_usual_values_are_silent(recwarn):
    method = load_recipe(BASE).method_spec
    warn_unusual({"beta": 0.1, "learning_rate": 5e-7, "num_train_epochs": 1}, method)
    assert not [w for w in recwarn if issubclass(w.category, TrainingWarning)]


EXAMPLES = sorted((Path(__file__).parent.parent / "prefdata" / "train" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not p.name.startswith("accelerate")])
def test_shipped_example_recipes_are_valid(path):
    r = load_recipe(path)
    assert r.output_dir.startswith("out/")


def test_importing_the_package_and_cli_loads_no_heavy_library():
    code = (
        "import sys, prefdata.train, prefdata.cli.main; "
        "print([m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules])"
    )
    repo = Path(__file__).parent.parent  # `-c` puts the working directory on sys.path
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip() == "[]"
