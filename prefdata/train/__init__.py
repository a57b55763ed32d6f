"""Training on curated pairs: DPO and friends through TRL, with a handoff folder.

Heavy libraries (torch, transformers, trl, peft) load only when a function needs them,
so ``import prefdata.train`` works without the ``train`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefdata.train.methods import METHODS
from prefdata.train.recipe import Recipe, load_recipe

if TYPE_CHECKING:
    from prefdata.train.evaluation import EvalResult
    from prefdata.train.runner import TrainResult

__all__ = [
    "METHODS",
    "EvalResult",
    "Recipe",
    "TrainResult",
    "evaluate",
    "load_recipe",
    "make_tiny_model",
    "train",
]


def train(recipe: Any, **kwargs: Any) -> TrainResult:
    """Train as a recipe (YAML path, mapping or Recipe) says; see runner.train."""
    from prefdata.train.runner import train as run

    return run(recipe, **kwargs)


def evaluate(**kwargs: Any) -> EvalResult:
    """Preference accuracy of a trained model; see evaluation.evaluate."""
    from prefdata.train.evaluation import evaluate as run

    return run(**kwargs)


def make_tiny_model(data: Any, out: Any, **kwargs: Any) -> Any:
    """A tiny offline model and tokenizer for demos; see tiny_model.make_tiny_model."""
    from prefdata.train.tiny_model import make_tiny_model as run

    return run(data, out, **kwargs)
