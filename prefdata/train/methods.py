"""The training methods a recipe can name, each a TRL config class and trainer class.

TRL keeps ORPO and CPO (whose ``loss_type="simpo"`` is SimPO) under ``trl.experimental``;
R-DPO is prefdata's own small DPOTrainer subclass. Classes are imported on first use so
the core package never needs torch or TRL.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, field
from typing import Any

from prefdata.errors import ConfigError, require


@dataclass(frozen=True)
class Method:
    """One way to train on pairs: which TRL config and trainer, and what it fixes."""

    name: str
    config_class: str  # "module:Class"
    trainer_class: str
    summary: str
    # settings the method implies and a recipe may not change (SimPO is CPO's simpo loss)
    fixed: dict[str, Any] = field(default_factory=dict)
    # method defaults a recipe may override
    defaults: dict[str, Any] = field(default_factory=dict)
    # usual beta range; outside it a recipe gets a warning, not a refusal
    beta_range: tuple[float, float] = (0.01, 1.0)
    uses_reference: bool = True

    def load_config_class(self) -> type:
        return _load(self.config_class)

    def load_trainer_class(self) -> type:
        return _load(self.trainer_class)


def _load(spec: str) -> type:
    module_name, _, attr = spec.partition(":")
    require("trl", "train")
    with warnings.catch_warnings():
        # trl.experimental announces itself on import; the method table already says so
        warnings.simplefilter("ignore")
        module = importlib.import_module(module_name)
    loaded: type = getattr(module, attr)
    return loaded


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "dpo",
            "trl:DPOConfig",
            "trl:DPOTrainer",
            "DPO with any TRL loss_type (sigmoid, ipo, hinge, robust, ... or a list + loss_weights)",
        ),
        Method(
            "rdpo",
            "trl:DPOConfig",
            "prefdata.train.rdpo:RDPOTrainer",
            "R-DPO (Park et al. 2024): DPO with rdpo_alpha * (|y_w| - |y_l|) subtracted in the sigmoid",
            defaults={"rdpo_alpha": 0.01},
        ),
        Method(
            "kto",
            "trl:KTOConfig",
            "trl:KTOTrainer",
            "KTO; paired data is unpaired automatically (chosen = desirable, rejected = undesirable)",
        ),
        Method(
            "orpo",
            "trl.experimental.orpo:ORPOConfig",
            "trl.experimental.orpo:ORPOTrainer",
            "ORPO: SFT + odds-ratio term, no reference model",
            uses_reference=False,
        ),
        Method(
            "simpo",
            "trl.experimental.cpo:CPOConfig",
            "trl.experimental.cpo:CPOTrainer",
            "SimPO: TRL's CPO with loss_type='simpo', reference-free, length-normalised",
            fixed={"loss_type": "simpo"},
            # cpo_alpha=0 is pure SimPO; >0 adds CPO's behaviour-cloning term
            defaults={"cpo_alpha": 0.0},
            # SimPO's beta scales an average log-prob, so its usual values are larger
            beta_range=(0.5, 10.0),
            uses_reference=False,
        ),
        Method(
            "cpo",
            "trl.experimental.cpo:CPOConfig",
            "trl.experimental.cpo:CPOTrainer",
            "CPO (sigmoid, hinge or ipo loss_type), reference-free",
            uses_reference=False,
        ),
    )
}


def get_method(name: str) -> Method:
    """The method called ``name``, or a ConfigError listing the valid ones."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"method must be one of {sorted(METHODS)}, got {name!r}") from None
