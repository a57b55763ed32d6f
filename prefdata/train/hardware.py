"""What the machine offers and the precision defaults that follow from it."""

from __future__ import annotations

import os
import platform
from typing import Any

from prefdata.errors import require


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
    """Config defaults and model dtype: bf16 weights and training on CUDA, fp32 on CPU.

    A recipe's own ``bf16``/``fp16``/``use_cpu`` win over these.
    """
    if hardware["device"] == "cuda" and hardware.get("bf16_supported", True):
        return {"bf16": True}, "bfloat16"
    if hardware["device"] == "cuda":
        # pre-Ampere GPUs have no bf16; fp16 mixed precision needs fp32 master weights
        return {"bf16": False, "fp16": True}, "float32"
    # TRL defaults bf16 to True, which fails or crawls on CPU
    return {"bf16": False, "use_cpu": True}, "float32"
