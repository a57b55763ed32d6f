"""What the machine offers and the precision defaults that follow from it."""

from __future__ import annotations

import gc
import os
import platform
from typing import Any

from prefdata.errors import ConfigError, require

# Model weight dtypes a recipe's `dtype` may name.
DTYPES = ("float32", "bfloat16", "float16")
# bf16 keeps 8 significant bits: an update under ~1/256 of a weight rounds away. Adam's
# steps are about lr in size and LLM weights are mostly 1e-3..1e-1, so below this lr pure
# bf16 weights barely move (measured: 0.6% of parameters changed at lr 5e-7 in 8 steps).
BF16_MIN_LR = 1e-5


def detect_hardware() -> dict[str, Any]:
    """The accelerator, its count and name, CPU count and platform, for the manifest."""
    torch = require("torch", "train")
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
    if torch.cuda.is_available():
        info.update(
            device="cuda",
            device_count=torch.cuda.device_count(),
            device_name=torch.cuda.get_device_name(0),
            bf16_supported=bool(torch.cuda.is_bf16_supported()),
        )
    else:
        info.update(device="cpu", device_count=0, device_name=platform.processor() or "cpu")
    return info


def precision_defaults(hardware: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Config defaults and model dtype: on CUDA fp32 weights with bf16 (or fp16) mixed
    precision, as TRL does; on CPU fp32 throughout.

    Pure bf16 weights would halve the memory but AdamW then updates them in bf16, where
    the small steps preference tuning takes round to nothing (see BF16_MIN_LR). A recipe's
    own ``bf16``/``fp16``/``use_cpu`` and ``dtype`` win over these.
    """
    if hardware["device"] == "cuda" and hardware.get("bf16_supported", True):
        return {"bf16": True}, "float32"
    if hardware["device"] == "cuda":
        # pre-Ampere GPUs have no bf16; fp16 mixed precision needs fp32 master weights
        return {"bf16": False, "fp16": True}, "float32"
    # TRL defaults bf16 to True, which fails or crawls on CPU
    return {"bf16": False, "use_cpu": True}, "float32"


def check_dtype(dtype: Any) -> None:
    """Refuse a model weight dtype outside DTYPES, in one line."""
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")


def check_precision(dtype: str, settings: dict[str, Any], *, lora: bool) -> list[str]:
    """Refuse weight dtypes mixed precision cannot train; return warnings for the rest."""
    check_dtype(dtype)
    if dtype == "float16" and settings.get("fp16"):
        raise ConfigError(
            "dtype float16 with fp16: true cannot train (the gradient scaler refuses fp16 "
            "weights): use dtype float32 with fp16, or bf16 on a GPU that has it"
        )
    lr = settings.get("learning_rate")
    # LoRA keeps its adapter weights in fp32 (peft's default), so they still move; under
    # DeepSpeed TRL keeps them in the base dtype (ZeRO-3 cannot mix dtypes), so warn there
    fp32_adapter = lora and not settings.get("deepspeed")
    if (
        dtype == "bfloat16"
        and not fp32_adapter
        and isinstance(lr, int | float)
        and lr < BF16_MIN_LR
    ):
        return [
            f"dtype bfloat16 with learning_rate={lr}: pure bf16 weights round away updates "
            f"below about {BF16_MIN_LR:g} and the loss stays at 0.693; drop dtype (fp32 "
            "weights, bf16 compute), or use lora or DeepSpeed ZeRO to save memory"
        ]
    return []


def release_accelerator_memory() -> bool:
    """Give the GPU memory of models no longer referenced back to the device.

    torch's caching allocator keeps freed blocks for the process; a vLLM child process
    or the next round's model needs them returned. True when there was a GPU to release.
    """
    torch = require("torch", "train")
    gc.collect()  # trainers hold reference cycles; collect them before emptying the cache
    if not torch.cuda.is_available():
        return False
    torch.cuda.empty_cache()
    return True
