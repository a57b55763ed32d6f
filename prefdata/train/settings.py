"""The TRL config's keyword arguments for a recipe on this machine: prefdata's and the
method's defaults, the precision the hardware calls for, then the recipe's own values."""

from __future__ import annotations

import importlib.util
from typing import Any

from prefdata.errors import ConfigError
from prefdata.train.hardware import check_precision, precision_defaults
from prefdata.train.notices import warn
from prefdata.train.recipe import Recipe, method_defaults


def trainer_settings(
    recipe: Recipe, hardware: dict[str, Any]
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The TRL config's keyword arguments, the model's weight dtype and its other
    from_pretrained arguments, for this recipe on this hardware."""
    precision, dtype = precision_defaults(hardware)
    settings = {**method_defaults(recipe), **precision, **recipe.settings}
    model_init_kwargs = dict(settings.pop("model_init_kwargs", None) or {})
    # popped either way: build_trainer spreads these after the dtype, so one left here
    # would load the model in another dtype than the one recorded
    named = model_init_kwargs.pop("dtype", None)
    dtype = recipe.dtype or str(named or dtype)
    if recipe.attn_implementation is not None:
        model_init_kwargs["attn_implementation"] = recipe.attn_implementation
    for message in check_precision(dtype, settings, lora=recipe.lora is not None):
        warn(message)
    settings["output_dir"] = recipe.output_dir
    _check_trackers(settings.get("report_to"))
    return settings, dtype, model_init_kwargs


# report_to names and the module each needs; transformers fails on a missing one only
# once the model is loaded
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def _check_trackers(report_to: Any) -> None:
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        module = TRACKERS.get(name)
        if module and importlib.util.find_spec(module) is None:
            raise ConfigError(f"report_to {name!r} needs {module}: pip install {module}")
