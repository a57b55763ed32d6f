"""The GPU check: train a random ~100M-parameter Llama on a learnable synthetic set with
prefdata's default recipe, then assert that it really trained and that evaluate and audit
ran on the GPU. Prints throughput and peak GPU memory.

    bash tests/gpu/check_gpu.sh            # on a GPU machine, under 8 minutes
    python tests/gpu/check_gpu.py --smoke  # the same logic on CPU with a tiny model

Everything is built offline: the tokenizer is trained on the synthetic pairs and the model
is randomly initialised, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

# sizes: (hidden, layers, heads, train pairs, held-out pairs)
FULL = (1024, 10, 16, 4000, 200)  # ~105M parameters with the synthetic set's small vocabulary
SMOKE = (64, 2, 4, 256, 32)
MIN_ACCURACY = 0.9
MIN_MOVED = 0.9  # share of parameters that must differ from the initial weights


class CheckFailed(Exception):
    """One of the check's assertions did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def share_moved(before: Path, after: Path) -> float:
    from safetensors.torch import load_file

    start, end = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    changed = total = 0
    for name, tensor in start.items():
        changed += int((end[name].float() != tensor.float()).sum())
        total += tensor.numel()
    return changed / total


def run(smoke: bool, root: Path) -> dict[str, Any]:
    import torch

    from prefdata.train import evaluate, train
    from prefdata.train.audit import audit
    from prefdata.train.demo_data import write_learnable_pairs
    from prefdata.train.manifest import read_manifest
    from prefdata.train.tiny_model import make_tiny_model

    cuda = torch.cuda.is_available()
    if not smoke:
        check(cuda, "no CUDA device: run with --smoke for the CPU version of this check")
    hidden, layers, heads, n_train, n_heldout = SMOKE if smoke else FULL
    figures: dict[str, Any] = {"mode": "smoke (CPU)" if smoke else "full"}
    clock = time.perf_counter()
    train_file = write_learnable_pairs(root / "train.parquet", n_train, shape="text", seed=1)
    heldout = write_learnable_pairs(root / "heldout.parquet", n_heldout, shape="text", seed=99)
    base = make_tiny_model(
        train_file, root / "base", vocab_size=1024, hidden_size=hidden, num_layers=layers,
        num_heads=heads, seed=0,
    )  # fmt: skip
    from safetensors.torch import load_file

    figures["parameters"] = sum(t.numel() for t in load_file(base / "model.safetensors").values())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    out = root / "dpo"
    # the default recipe: only paths and the held-out set are given
    recipe = {"data": str(train_file), "model": str(base), "output_dir": str(out)}
    recipe["eval_data"] = str(heldout)
    result = train(recipe)
    manifest = read_manifest(out) or {}
    figures["device"] = manifest["hardware"]["device"]
    figures["precision"] = {k: manifest["recipe"].get(k) for k in ("dtype", "bf16", "fp16")}
    figures["train_seconds"] = result.train_metrics.get("train_runtime")
    figures["train_samples_per_second"] = result.train_metrics.get("train_samples_per_second")
    figures["trained"] = result.training
    figures["trainer_eval_accuracy"] = result.eval_metrics.get("eval_rewards/accuracies")
    figures["trainer_eval_margin"] = result.eval_metrics.get("eval_rewards/margins")
    if cuda:
        figures["peak_gpu_memory_gib_training"] = round(
            torch.cuda.max_memory_allocated() / 2**30, 2
        )
        check(figures["precision"]["dtype"] == "float32", "CUDA default should be fp32 weights")
        check(figures["precision"]["bf16"] is True, "CUDA default should be bf16 mixed precision")

    moved = share_moved(base, out)
    figures["share_of_parameters_moved"] = round(moved, 4)
    check(result.trained, f"training reports nothing trained: {result.training}")
    check(moved > MIN_MOVED, f"only {moved:.2%} of parameters moved (want > {MIN_MOVED:.0%})")

    evaluated = evaluate(model=out, data=heldout)
    figures["evaluate"] = evaluated.summary()
    check(
        evaluated.accuracy > MIN_ACCURACY,
        f"held-out preference accuracy {evaluated.accuracy:.3f} <= {MIN_ACCURACY}",
    )
    audited = audit(model=out, data=heldout, out=root / "audit.parquet", top=10)
    figures["audit"] = {
        "device": audited.evaluation.device,
        "negative": audited.negative,
        "queued": audited.queue.num_rows,
    }
    expected = "cuda" if cuda else "cpu"
    check(evaluated.device.startswith(expected), f"evaluate ran on {evaluated.device}")
    check(
        audited.evaluation.device.startswith(expected), f"audit ran on {audited.evaluation.device}"
    )
    if cuda:
        figures["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        figures["gpu"] = torch.cuda.get_device_name(0)
    figures["total_seconds"] = round(time.perf_counter() - clock, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model on CPU")
    parser.add_argument("--out", type=Path, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.out is not None and args.out.is_dir() and any(args.out.iterdir()):
        # a rerun would train into the last run's folder, which train refuses
        print(f"GPU CHECK NOT RUN: --out {args.out} is not empty: give a new or empty folder")
        return 2
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as temporary:
        root = args.out or Path(temporary)
        root.mkdir(parents=True, exist_ok=True)
        try:
            figures = run(args.smoke, root)
        except CheckFailed as failure:
            print(f"GPU CHECK FAILED: {failure}", flush=True)
            return 1
    print(json.dumps(figures, indent=2, default=str))
    print("GPU CHECK PASSED" if not args.smoke else "SMOKE CHECK PASSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
