"""Peak memory and time of the dataset-level pass (signatures + decisions) on generated pairs.

    python tests/benchmarks/bench_dataset_pass.py [--pairs 1000000] [--no-minhash]

Generates --pairs text pairs (1% exact duplicates, 0.5% reversed pairs, 2% rephrased
prompts) into a temporary JSONL, then in a fresh process runs only
``prefdata.dataset.scan.scan`` (one worker) and prints its peak resident memory
(ru_maxrss), the same process's peak after merely importing prefdata, the row
signatures' size, and the counts found. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WORDS = [
    "the",
    "a",
    "model",
    "answer",
    "data",
    "pair",
    "prefer",
    "chosen",
    "rejected",
    "quick",
    "brown",
    "fox",
    "jumps",
    "lazy",
    "dog",
    "river",
    "stone",
    "paper",
    "light",
    "music",
    "garden",
    "window",
    "travel",
    "number",
    "system",
    "people",
]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from prefdata.config import FilterConfig, ReadOptions
from prefdata.dataset.scan import scan
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
config = FilterConfig(near_duplicates=sys.argv[3] == "1")
start = time.perf_counter()
plan = scan([Path(sys.argv[2])], ReadOptions(), config, workers=1, work_dir=Path(sys.argv[4]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
counts = {code: int(len(rows)) for code, rows in plan.rows[0].items()}
print(json.dumps({"baseline_mib": baseline / 1024, "peak_mib": peak / 1024, "seconds": seconds,
                  "counts": counts, "summary": plan.summary}, default=str))
"""


def generate(n: int, path: Path) -> None:
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as f:
        last: list[dict[str, str]] = []
        for i in range(n):
            roll = rng.random()
            if last and roll < 0.01:
                row = rng.choice(last)  # exact duplicate
            elif last and roll < 0.015:
                old = rng.choice(last)
                row = {
                    "prompt": old["prompt"],
                    "chosen": old["rejected"],
                    "rejected": old["chosen"],
                }
            else:
                words = rng.choices(WORDS, k=rng.randint(8, 30))
                if last and roll < 0.035:  # a rephrasing: one extra word at the end
                    words = [*rng.choice(last)["prompt"].split(), "please"]
                row = {
                    "prompt": " ".join(words) + f" {i}" * (roll >= 0.035),
                    "chosen": " ".join(rng.choices(WORDS, k=rng.randint(10, 40))),
                    "rejected": " ".join(rng.choices(WORDS, k=rng.randint(5, 30))),
                }
            last = ([*last, row])[-1000:]
            f.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--no-minhash", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.jsonl"
        start = time.perf_counter()
        generate(args.pairs, data)
        print(
            f"generated {args.pairs:,} pairs ({data.stat().st_size / 2**20:,.0f} MiB JSONL) "
            f"in {time.perf_counter() - start:.0f} s"
        )
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(REPO),
                str(data),
                "0" if args.no_minhash else "1",
                tmp,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    bands = result["summary"].get("near_duplicate_prompt", {}).get("bands", 0)
    per_row = 8 * 5 + 4 + 8 + 8 * bands  # hashes, lengths, input index, source row, bands
    print(f"dataset pass: {result['seconds']:.1f} s, {args.pairs / result['seconds']:,.0f} pairs/s")
    print(
        f"peak RSS: {result['peak_mib']:,.0f} MiB (after imports: {result['baseline_mib']:,.0f} MiB); "
        f"row signatures: {per_row} B/row = {per_row * args.pairs / 2**20:,.0f} MiB; "
        f"MinHash on disk: {4 * 128 * args.pairs / 2**20 if bands else 0:,.0f} MiB"
    )
    print(f"rows per reason: {result['counts']}")
    print(f"summary: {json.dumps(result['summary'])}")


if __name__ == "__main__":
    main()
