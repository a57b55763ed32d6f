"""Iterative DPO: rounds of sample -> score -> pair -> curate -> train (Pang et al. 2024).

Heavy libraries load only inside the functions that sample, score and train, so
``import prefdata.iterate`` works without the ``train`` extra.
"""

from __future__ import annotations

from prefdata.iterate.recipe import IterateRecipe, ScorerSpec, load_iterate_recipe
from prefdata.iterate.rounds import ROUND_DONE, IterateResult, iterate

__all__ = [
    "ROUND_DONE",
    "IterateRecipe",
    "IterateResult",
    "ScorerSpec",
    "iterate",
    "load_iterate_recipe",
]
