"""R-DPO (Park et al. 2024, "Disentangling Length from Quality in DPO").

The loss is DPO's with a length term inside the sigmoid::

    -log sigmoid(beta * (logratio_w - logratio_l) - alpha * (|y_w| - |y_l|))

so a longer chosen response has to earn its extra tokens. TRL computes the DPO logits
inline, so the hook adds ``alpha / beta * |y|`` to each reference log-prob: the logratios
drop by that much and ``beta * delta`` drops by exactly ``alpha * (|y_w| - |y_l|)``. Every
TRL loss path, precomputed reference log-probs and LoRA keep working unchanged. Logged
``rewards/*`` are therefore the length-regularised rewards the loss sees; the length term
itself is logged as ``rdpo/length_term``.
"""

from __future__ import annotations

from typing import Any

from prefdata.errors import require

trl = require("trl", "train")


class RDPOTrainer(trl.DPOTrainer):  # type: ignore[name-defined]
    """DPOTrainer with R-DPO's length regulariser ``rdpo_alpha``."""

    precompute_ref_logps: bool  # set by DPOTrainer.__init__

    def __init__(self, *args: Any, rdpo_alpha: float = 0.01, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rdpo_alpha = float(rdpo_alpha)

    def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
        # completion_mask marks response tokens after the collator's truncation, so the
        # lengths are the ones the log-probs are summed over
        chosen_len, rejected_len = inputs["completion_mask"].sum(dim=1).chunk(2, dim=0)
        if self.precompute_ref_logps:
            ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        else:
            ref_chosen, ref_rejected = self.compute_ref_log_probs(
                self.ref_model or self.model, inputs
            )
        shift = self.rdpo_alpha / self.beta
        shifted = dict(inputs)
        shifted["ref_chosen_logps"] = ref_chosen + shift * chosen_len.to(ref_chosen.dtype)
        shifted["ref_rejected_logps"] = ref_rejected + shift * rejected_len.to(ref_rejected.dtype)
        mode = "train" if self.model.training else "eval"
        length_term = self.rdpo_alpha * (chosen_len - rejected_len).float()
        gathered = self.accelerator.gather_for_metrics(length_term)
        self._metrics[mode]["rdpo/length_term"].append(gathered.mean().item())

        # the parent reads reference log-probs from the batch when they were precomputed
        precomputed = self.precompute_ref_logps
        self.precompute_ref_logps = True
        try:
            return super()._compute_loss(model, shifted, return_outputs)
        finally:
            self.precompute_ref_logps = precomputed
