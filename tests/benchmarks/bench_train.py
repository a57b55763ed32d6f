"""Training throughput on CPU for the tiny model, with and without precomputed reference
log-probs. Prints pairs/s and tokens/s for each and their ratio; asserts nothing.

    python tests/benchmarks/bench_train.py [--pairs 256] [--repeats 2]

With ``precompute_ref_log_probs`` the reference forward runs once over the data before
training instead of at every step, so the training loop does one forward less per step;
the end-to-end figure includes that precompute pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from prefdata.train.demo_data import write_learnable_pairs
from prefdata.train.runner import build_trainer, prepare
from prefdata.train.tiny_model import make_tiny_model

OUT = Path(__file__).parent / "_out" / "train"


def run_once(data: Path, model: Path, *, precompute: bool, epochs: int) -> dict[str, float]:
    out = OUT / ("pre" if precompute else "live")
    shutil.rmtree(out, ignore_errors=True)
    prep = prepare(
        {
            "data": str(data),
            "model": str(model),
            "output_dir": str(out),
            "learning_rate": 5e-6,
            "per_device_train_batch_size": 8,
            "gradient_checkpointing": False,
            "max_length": 128,
            "num_train_epochs": epochs,
            "save_strategy": "no",
            "logging_steps": 1000,
            "precompute_ref_log_probs": precompute,
            "disable_tqdm": True,
        }
    )
    start, cpu = time.perf_counter(), time.process_time()
    trainer = build_trainer(prep)  # loads the model; with precompute, runs the ref pass too
    setup, setup_cpu = time.perf_counter() - start, time.process_time() - cpu
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu
    pairs = len(prep.train) * epochs
    tokens = float(trainer._total_train_tokens)  # non-padding tokens, chosen + rejected
    return {
        "loop_s": loop,
        "setup_s": setup,
        "pairs_per_s": pairs / loop,
        "tokens_per_s": tokens / loop,
        # CPU seconds of this process: steadier than wall time on a shared machine
        "pairs_per_cpu_s": pairs / loop_cpu,
        "pairs_per_cpu_s_end_to_end": pairs / (loop_cpu + setup_cpu),
        "pairs_per_s_end_to_end": pairs / (loop + setup),
        "tokens_per_s_end_to_end": tokens / (loop + setup),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    OUT.mkdir(parents=True, exist_ok=True)
    data = write_learnable_pairs(OUT / "pairs.parquet", args.pairs, seed=0)
    model = make_tiny_model(data, OUT / "model")
    print(f"tiny model (hidden 64, 2 layers), {args.pairs} pairs, batch 8, "
          f"{torch.get_num_threads()} torch threads")  # fmt: skip
    run_once(data, model, precompute=False, epochs=1)  # warm-up: imports, allocator
    best: dict[bool, dict[str, float]] = {}
    for _ in range(args.repeats):  # alternate so drift in machine load hits both
        for precompute in (False, True):
            result = run_once(data, model, precompute=precompute, epochs=args.epochs)
            if precompute not in best or result["loop_s"] < best[precompute]["loop_s"]:
                best[precompute] = result
    for precompute, r in best.items():
        label = "precomputed ref" if precompute else "live ref       "
        print(
            f"{label}: {r['pairs_per_s']:7.1f} pairs/s {r['tokens_per_s']:9.0f} tokens/s "
            f"(loop {r['loop_s']:.2f}s; end to end incl. setup "
            f"{r['pairs_per_s_end_to_end']:.1f} pairs/s, {r['tokens_per_s_end_to_end']:.0f} tokens/s)"
        )
    live, pre = best[False], best[True]
    print(f"ratio precomputed/live, training loop: {pre['pairs_per_s'] / live['pairs_per_s']:.2f}x")
    print(
        "ratio precomputed/live, end to end:    "
        f"{pre['pairs_per_s_end_to_end'] / live['pairs_per_s_end_to_end']:.2f}x"
    )
    print(
        "ratio precomputed/live in CPU time, loop "
        f"{pre['pairs_per_cpu_s'] / live['pairs_per_cpu_s']:.2f}x, end to end "
        f"{pre['pairs_per_cpu_s_end_to_end'] / live['pairs_per_cpu_s_end_to_end']:.2f}x"
    )


if __name__ == "__main__":
    main()
