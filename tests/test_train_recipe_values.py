"""`prefdata train --check` refuses each badly typed or out-of-range recipe value in one
line (key, value, what is allowed) before any model loads; `1e-4` counts as a number."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError
from prefdata.train.recipe import load_recipe
from tests.train_support import recipe, tiny

__all__ = ["tiny"]

HEAD = "data: {data}\nmodel: {model}\noutput_dir: {out}\n"


def check(tiny: dict[str, Path], tmp_path: Path, lines: str, monkeypatch) -> tuple[int, str]:
    # written as YAML text, because how YAML reads `1e-4` or `"3"` is part of the test
    path = tmp_path / "recipe.yaml"
    path.write_text(
        HEAD.format(data=tiny["text"], model=tiny["model"], out=tmp_path / "out") + lines
    )

    def no_model(*_args, **_kwargs):
        raise AssertionError("a model was loaded")

    import transformers

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_model)
    result = CliRunner().invoke(app, ["train", str(path), "--check"])
    return result.exit_code, " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("beta: high", "recipe key 'beta' must be a number, got 'high'"),
        (
            "per_device_train_batch_size: 4.5",
            "recipe key 'per_device_train_batch_size' must be a whole number, got 4.5",
        ),
        ('num_train_epochs: "3"', "recipe key 'num_train_epochs' must be a number, got '3'"),
        ("max_length: -5", "recipe key 'max_length' must be >= 1, got -5"),
        ("learning_rate: 0", "recipe key 'learning_rate' must be > 0, got 0"),
        ("gradient_checkpointing: maybe", "must be true or false, got 'maybe'"),
        ("lr_scheduler_type: wavy", "recipe key 'lr_scheduler_type' must be one of ["),
        ("loss_weights: [1.0, heavy]", "'loss_weights' must be a list of a number (or null)"),
        ("max_steps: 0", "'max_steps' must be -1 (train num_train_epochs) or >= 1, got 0"),
        ("warmup_ratio: 1.5", "warmup_ratio must be a number >= 0 and < 1, got 1.5"),
        ("dtype: float8", "dtype must be one of ['float32', 'bfloat16', 'float16']"),
        ("lora: {r: 8, lora_alfa: 16}", "unknown lora key(s) ['lora_alfa'] (did you mean"),
        ("lora: {r: eight}", "lora key 'r' must be a whole number, got 'eight'"),
        ("lora: {r: 8, lora_dropout: 2}", "lora key 'lora_dropout' must be >= 0 and < 1, got 2"),
        ("lora: {r: 8, bias: some}", "lora key 'bias' must be one of ['none', 'all', 'lora_only']"),
    ],
)
def test_bad_values_are_refused_before_any_model_loads(tiny, tmp_path, monkeypatch, line, expected):
    code, err = check(tiny, tmp_path, line + "\n", monkeypatch)
    errors = [part for part in err.split("error:")[1:]]
    assert code == 2 and len(errors) == 1, err
    assert expected in err, err
    assert "Traceback" not in err


def test_scientific_notation_from_yaml_is_a_number(tiny, tmp_path, monkeypatch):
    code, err = check(tiny, tmp_path, "learning_rate: 1e-6\nbeta: 5e-2\n", monkeypatch)
    assert code == 0, err
    loaded = load_recipe(tmp_path / "recipe.yaml")
    assert loaded.settings["learning_rate"] == 1e-6 and loaded.settings["beta"] == 0.05


def test_good_values_of_every_kind_pass(tiny, tmp_path):
    loaded = load_recipe(
        recipe(
            tiny,
            tmp_path,
            loss_type="sigmoid",  # one item stands for a list, as TRL allows
            report_to=["tensorboard"],
            optim="adamw_torch",
            model_init_kwargs={"low_cpu_mem_usage": True},
            lora={"r": 8, "lora_alpha": 16, "target_modules": "all-linear"},
        )
    )
    assert loaded.lora == {"r": 8, "lora_alpha": 16, "target_modules": "all-linear"}


def test_iterate_train_keys_are_checked_too(tiny):
    from prefdata.iterate.recipe import load_iterate_recipe

    with pytest.raises(ConfigError, match="recipe key 'beta' must be a number, got 'high'"):
        load_iterate_recipe(
            {
                "model": str(tiny["model"]),
                "prompts": "p.jsonl",
                "output_dir": "o",
                "scorer": "m:f",
                "train": {"beta": "high"},
            }
        )


def test_a_tracker_that_is_not_installed_is_refused(tiny, tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    code, err = check(tiny, tmp_path, "report_to: tensorboard\n", monkeypatch)
    assert code == 2 and "report_to 'tensorboard' needs tensorboard: pip install" in err, err
