"""The GPU check's logic, run in its CPU smoke mode so the script cannot rot unnoticed
on machines without a GPU (the check itself needs one: tests/gpu/check_gpu.sh)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

SCRIPT = Path(__file__).parent / "gpu" / "check_gpu.py"


@pytest.mark.slow
def test_the_gpu_check_passes_in_smoke_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = importlib.util.spec_from_file_location("check_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(["--smoke", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # PASSED means: trained, > 90% of parameters moved, held-out accuracy > 0.9
    assert "SMOKE CHECK PASSED" in printed
    figures = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
    assert figures["evaluate"]["accuracy"] > 0.9 and figures["share_of_parameters_moved"] > 0.9


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rerun_into_a_used_folder_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "dpo").mkdir()  # what the first run left
    assert _module().main(["--smoke", "--out", str(tmp_path)]) == 2
    printed = capsys.readouterr().out.strip()
    assert printed.count("\n") == 0 and "is not empty" in printed


def test_the_check_refuses_to_pretend_without_a_gpu(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the full check applies")
    spec = importlib.util.spec_from_file_location("check_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 1
    assert "no CUDA device" in capsys.readouterr().out
