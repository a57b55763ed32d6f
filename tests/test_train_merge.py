"""`prefdata train --merge DIR`: a LoRA run also writes the adapter merged into its base;
refused up front for a run without LoRA or a non-empty folder."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.train.manifest import resolve_path
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def invoke(tmp_path, settings, *flags):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["train", str(path), *flags])
    return result.exit_code, " ".join((result.stderr or "").split()), result.stdout


def test_merge_without_lora_is_refused_before_loading(tiny, tmp_path):
    code, err, _ = invoke(tmp_path, recipe(tiny, tmp_path / "out"), "--check", "--merge", "m")
    assert code == 2 and "--merge applies to LoRA runs" in err, err


@pytest.mark.slow
def test_train_merge_writes_a_plain_model(tiny, tmp_path):
    settings = recipe(tiny, tmp_path / "lora", lora={"r": 4, "lora_alpha": 8}, max_steps=2)
    merged = tmp_path / "merged"
    code, err, out = invoke(tmp_path, settings, "--merge", str(merged))
    assert code == 0, err
    assert f"merged model -> {merged}" in " ".join(out.split())
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    manifest = json.loads((merged / "manifest.json").read_text())
    assert resolve_path(merged, manifest["model"]["base"]) == tiny["model"]


def test_export_model_refuses_an_unknown_dtype_in_one_line(tiny, tmp_path):
    import peft
    import transformers

    base = transformers.AutoModelForCausalLM.from_pretrained(str(tiny["model"]))
    adapter = tmp_path / "lora"
    peft.get_peft_model(base, peft.LoraConfig(r=4, task_type="CAUSAL_LM")).save_pretrained(adapter)
    transformers.AutoTokenizer.from_pretrained(str(tiny["model"])).save_pretrained(adapter)
    flags = ["--adapter", str(adapter), "--out", str(tmp_path / "m"), "--dtype", "fp8"]
    result = CliRunner().invoke(app, ["export-model", *flags])
    err = " ".join((result.stderr or "").split())
    assert result.exit_code == 2 and "dtype must be one of ['float32'" in err, result.output
    assert "got 'fp8'" in err and not (tmp_path / "m").exists()
