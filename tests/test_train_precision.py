"""Precision that trains: fp32 weights with bf16 compute on a GPU (faked here), and
updates at the default learning rate that survive, unlike pure bf16 weights."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from safetensors.torch import load_file

from prefdata.errors import ConfigError
from prefdata.train.hardware import check_precision, detect_hardware
from prefdata.train.notices import TrainingWarning
from prefdata.train.recipe import load_recipe
from prefdata.train.runner import build_trainer, prepare, trainer_settings
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch):
    """torch.cuda answering like a one-GPU machine; returns a setter for bf16 support."""
    import torch

    state = {"bf16": True}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "NVIDIA A100 (faked)")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *_a, **_k: state["bf16"])
    return state


def test_on_cuda_the_weights_are_fp32_and_compute_is_bf16(tiny, tmp_path, fake_cuda):
    hardware = detect_hardware()
    assert hardware["device"] == "cuda" and hardware["bf16_supported"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)  # the default gives no warning
        settings, dtype, init = trainer_settings(load_recipe(recipe(tiny, tmp_path)), hardware)
    assert dtype == "float32" and settings["bf16"] is True
    assert "use_cpu" not in settings and not settings.get("fp16") and init == {}

    fake_cuda["bf16"] = False  # pre-Ampere: fp16 mixed precision, still fp32 weights
    settings, dtype, _ = trainer_settings(load_recipe(recipe(tiny, tmp_path)), detect_hardware())
    assert dtype == "float32" and settings["fp16"] is True and settings["bf16"] is False


def test_recipe_dtype_and_attention_are_passed_to_the_model(tiny, tmp_path, fake_cuda):
    settings = recipe(tiny, tmp_path, dtype="bfloat16", attn_implementation="eager")
    loaded = load_recipe({**settings, "learning_rate": 5e-7})
    with pytest.warns(TrainingWarning, match="pure bf16 weights round away"):
        settings, dtype, init = trainer_settings(loaded, detect_hardware())
    assert dtype == "bfloat16" and init == {"attn_implementation": "eager"}


def test_the_recipe_dtype_wins_over_model_init_kwargs(tiny, tmp_path):
    # both name a dtype: the one recorded in the manifest must be the one loaded
    settings = recipe(tiny, tmp_path, dtype="float32", model_init_kwargs={"dtype": "bfloat16"})
    _, dtype, init = trainer_settings(load_recipe(settings), detect_hardware())
    assert dtype == "float32" and "dtype" not in init


def test_pure_bf16_warning_depends_on_the_learning_rate_and_lora():
    assert check_precision("bfloat16", {"learning_rate": 5e-7}, lora=False)
    assert not check_precision("bfloat16", {"learning_rate": 5e-7}, lora=True)
    # under ZeRO-3, TRL keeps LoRA weights in the base dtype
    assert check_precision("bfloat16", {"learning_rate": 5e-7, "deepspeed": "z3.json"}, lora=True)
    assert not check_precision("bfloat16", {"learning_rate": 1e-4}, lora=False)
    assert not check_precision("float32", {"learning_rate": 5e-7}, lora=False)
    with pytest.raises(ConfigError, match="dtype float16 with fp16"):
        check_precision("float16", {"fp16": True}, lora=False)


def _share_changed(trainer, base: dict) -> float:
    changed = total = 0
    for name, param in trainer.model.named_parameters():
        changed += int((param.detach() != base[name].to(param.dtype)).sum())
        total += param.numel()
    return changed / total


@pytest.mark.slow
def test_fp32_weights_move_at_the_default_lr_under_bf16_autocast(tiny, tmp_path):
    """The CUDA default (fp32 weights, bf16 autocast) run on CPU: 8 steps at lr 5e-7 change
    nearly every parameter; pure bf16 weights, the old default, change almost none."""
    base = load_file(Path(tiny["model"]) / "model.safetensors")
    shares = {}
    for dtype in ("float32", "bfloat16"):
        settings = recipe(tiny, tmp_path / dtype, dtype=dtype, bf16=True, use_cpu=True)
        settings.update(learning_rate=5e-7, max_steps=8, warmup_steps=0, num_train_epochs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingWarning)
            trainer = build_trainer(prepare(settings))
        assert trainer.accelerator.mixed_precision == "bf16"
        trainer.train()
        shares[dtype] = _share_changed(trainer, base)
    assert shares["float32"] > 0.9, shares
    assert shares["bfloat16"] < 0.1, shares
