"""Training gives its model back when it returns, so an iterate round's sampling (or a
vLLM child process) finds the GPU memory free."""

from __future__ import annotations

import weakref

import pytest

from prefdata.train.hardware import release_accelerator_memory
from prefdata.train.runner import train
from tests.train_support import recipe, tiny

__all__ = ["tiny"]


def test_release_empties_the_cuda_cache(monkeypatch):
    import torch

    assert release_accelerator_memory() is torch.cuda.is_available()
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    assert release_accelerator_memory() and calls == [1]


@pytest.mark.slow
def test_no_model_outlives_train(tiny, tmp_path, monkeypatch):
    import transformers

    models: list[weakref.ref] = []
    load = transformers.AutoModelForCausalLM.from_pretrained

    def tracked(*args, **kwargs):
        model = load(*args, **kwargs)
        models.append(weakref.ref(model))
        return model

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", tracked)
    train(recipe(tiny, tmp_path / "out", max_steps=2), progress=False)
    assert models and all(ref() is None for ref in models)
