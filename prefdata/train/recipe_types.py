"""Check each recipe value against its TRL (or peft) config field's type and bounds.

TRL's configs accept ``beta: high`` or a batch size of ``4.5`` at construction and fail
only once the model is loaded and training starts; these checks run before any model
loads and answer in one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from functools import cache
from typing import Any

from prefdata.errors import ConfigError

# YAML 1.1 (PyYAML) reads `1e-4` as the string '1e-4': a number without a dot before the
# exponent. A string of exactly that form is taken as the number it spells.
SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")

# (low, low included, high, high included) for fields whose type alone allows nonsense
BOUNDS: dict[str, tuple[float | None, bool, float | None, bool]] = {
    "learning_rate": (0, False, None, False),
    "beta": (0, False, None, False),
    "num_train_epochs": (0, False, None, False),
    "per_device_train_batch_size": (1, True, None, False),
    "per_device_eval_batch_size": (1, True, None, False),
    "gradient_accumulation_steps": (1, True, None, False),
    "max_length": (1, True, None, False),
    "max_prompt_length": (1, True, None, False),
    "max_completion_length": (1, True, None, False),
    "logging_steps": (0, False, None, False),
    "save_steps": (0, False, None, False),
    "eval_steps": (0, False, None, False),
    "warmup_steps": (0, True, None, False),
    "weight_decay": (0, True, None, False),
    "max_grad_norm": (0, True, None, False),
    "label_smoothing": (0, True, 0.5, True),
    "seed": (0, True, None, False),
    "dataloader_num_workers": (0, True, None, False),
    "desirable_weight": (0, True, None, False),
    "undesirable_weight": (0, True, None, False),
    "cpo_alpha": (0, True, None, False),
    "ld_alpha": (0, True, 1, True),
    # peft
    "r": (1, True, None, False),
    "lora_alpha": (0, False, None, False),
    "lora_dropout": (0, True, 1, False),
}


@cache
def _hints(config_class: type) -> dict[str, Any]:
    return typing.get_type_hints(config_class)


def check_values(settings: dict[str, Any], config_class: type, *, what: str = "recipe key") -> None:
    """Raise ConfigError for the first value its field's type or bounds refuse.

    Numbers spelt like ``1e-4`` that YAML left as strings are converted in place.
    """
    hints = _hints(config_class)
    for key, value in list(settings.items()):
        hint = hints.get(key)
        if hint is None:
            continue
        if isinstance(value, str) and SCIENTIFIC.match(value) and _accepts(hint, 0.5):
            value = settings[key] = float(value)
        if not _accepts(hint, value):
            raise ConfigError(f"{what} {key!r} must be {_describe(hint)}, got {value!r}")
        _check_bounds(key, value, what)
    steps = settings.get("max_steps")
    if isinstance(steps, int) and (steps == 0 or steps < -1):
        raise ConfigError(
            f"{what} 'max_steps' must be -1 (train num_train_epochs) or >= 1, got {steps!r}"
        )


def _check_bounds(key: str, value: Any, what: str) -> None:
    bounds = BOUNDS.get(key)
    if bounds is None or not isinstance(value, int | float) or isinstance(value, bool):
        return
    low, low_in, high, high_in = bounds
    too_low = low is not None and (value < low or (value == low and not low_in))
    too_high = high is not None and (value > high or (value == high and not high_in))
    if too_low or too_high:
        parts = []
        if low is not None:
            parts.append(f"{'>=' if low_in else '>'} {low:g}")
        if high is not None:
            parts.append(f"{'<=' if high_in else '<'} {high:g}")
        raise ConfigError(f"{what} {key!r} must be {' and '.join(parts)}, got {value!r}")


def _enum_values(hint: Any) -> list[str]:
    return [str(member.value) for member in hint]


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` (as YAML gives it) fits the type ``hint``."""
    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        # `SchedulerType | str`: the str is the enum's spelling, so only its values count
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and isinstance(value, str):
            return any(value in _enum_values(e) for e in enums) or any(
                _accepts(a, value) for a in args if a is not str and a not in enums
            )
        return any(_accepts(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list or hint is list:
        # a single item stands for a one-item list, as TRL's own __post_init__ allows
        item = args[0] if args else Any
        if isinstance(value, list):
            return all(_accepts(item, v) for v in value)
        return args != () and _accepts(item, value) and item is not Any
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, str) and value in _enum_values(hint)
    return True  # other classes (ParallelismConfig, ...): left to the config itself


def _describe(hint: Any) -> str:
    """What a type allows, in words a recipe author reads."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        shown = [a for a in args if a is not type(None) and not (enums and a is str)]
        words = " or ".join(dict.fromkeys(_describe(a) for a in shown))
        return f"{words} (or null)" if type(None) in args else words
    if origin is typing.Literal:
        return f"one of {list(args)}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {_enum_values(hint)}"
    if origin is list or hint is list:
        return f"a list of {_describe(args[0]) if args else 'values'}"
    if origin is dict or hint is dict:
        return "a mapping"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))
