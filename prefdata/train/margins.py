"""Each method's own implicit reward, so `evaluate` and `audit` agree with the trainer's
``rewards/accuracies`` and ``rewards/margins`` instead of using DPO's for every method.

Read from TRL 1.16: DPO and KTO reward ``beta * (logp - ref_logp)`` over summed
log-probs; R-DPO (prefdata) subtracts ``alpha * (|y_w| - |y_l|)`` from DPO's margin;
SimPO and ORPO reward ``beta * mean logp`` without a reference; CPO ``beta * logp``,
averaged for its ``ipo`` loss, summed otherwise. CPO and ORPO tokenise as TRL's older
trainers did: a BOS before the prompt, the response cut to fit max_length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MarginRule:
    """How a method turns log-probs into a reward; ``formula`` is what reports print."""

    method: str
    uses_reference: bool
    average: bool = False  # mean over response tokens instead of the sum
    length_alpha: float = 0.0  # R-DPO's length coefficient
    formula: str = ""
    # CPO's and ORPO's own tokenisation puts a BOS before the prompt when the tokenizer did not
    bos_first: bool = False


def margin_rule(manifest: dict[str, Any]) -> MarginRule:
    """The rule for the method a handoff manifest names (DPO's when there is none)."""
    method = manifest.get("method") or "dpo"
    config = manifest.get("trainer_config") or {}
    recipe = manifest.get("recipe") or {}
    if method in ("dpo", "kto"):
        formula = "beta * [(logp_c - ref_c) - (logp_r - ref_r)], summed log-probs"
        return MarginRule(method, True, formula=formula)
    if method == "rdpo":
        alpha = float(recipe.get("rdpo_alpha") or 0.0)
        formula = f"beta * [(logp_c - ref_c) - (logp_r - ref_r)] - {alpha} * (|y_c| - |y_r|)"
        return MarginRule(method, True, length_alpha=alpha, formula=formula)
    loss = config.get("loss_type") or recipe.get("loss_type")
    average = method in ("simpo", "orpo") or loss in ("ipo", "simpo")
    kind = "mean" if average else "summed"
    formula = f"beta * (logp_c - logp_r), {kind} log-probs"
    return MarginRule(method, False, average, formula=formula, bos_first=True)


def margins(
    rule: MarginRule,
    beta: float,
    logp: np.ndarray,
    counts: np.ndarray,
    ref_logp: np.ndarray | None,
) -> np.ndarray:
    """Per-pair margin from per-sequence figures laid out chosen, rejected, chosen, ..."""
    values = logp / np.maximum(counts, 1) if rule.average else logp.copy()
    if rule.uses_reference:
        assert ref_logp is not None
        values = values - ref_logp
    margin = beta * (values[0::2] - values[1::2])
    if rule.length_alpha:
        margin = margin - rule.length_alpha * (counts[0::2] - counts[1::2])
    result: np.ndarray = margin
    return result
