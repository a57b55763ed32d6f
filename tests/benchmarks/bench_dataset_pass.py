"""What the dataset-level checks add to a run, in time and peak memory, on generated pairs.

    python tests/benchmarks/bench_dataset_pass.py [--pairs 1000000] [--no-minhash]

Generates --pairs text pairs (1% exact duplicates, 0.5% reversed pairs, 2% rephrased
prompts) into a temporary JSONL, then runs ``validate_pairs`` twice, each in a fresh
process: with the dataset-level checks (and MinHash near-duplicate counting unless
--no-minhash), and with them disabled. Prints both runs' time and peak resident memory
(ru_maxrss), the row signatures' size, and the counts found. Not a test: it asserts
nothing.
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
from prefdata.config import FilterConfig
from prefdata.dataset import DATASET_CHECKS
from prefdata.pipeline import validate_pairs
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mode = sys.argv[3]
config = FilterConfig(
    near_duplicates=mode == "minhash", disable=list(DATASET_CHECKS) if mode == "off" else []
)
start = time.perf_counter()
report = validate_pairs([Path(sys.argv[2])], config=config)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
counts = {code: report.reasons.get(code, 0) for code in DATASET_CHECKS}
print(json.dumps({"baseline_mib": baseline / 1024, "peak_mib": peak / 1024, "seconds": seconds,
                  "counts": counts, "summary": report.stats.get("dataset", {})}, default=str))
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
        runs = {}
        for mode in ("on" if args.no_minhash else "minhash", "off"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(REPO), str(data), mode],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[mode] = json.loads(out.strip().splitlines()[-1])
    result, off = runs["on" if args.no_minhash else "minhash"], runs["off"]
    bands = result["summary"].get("near_duplicate_prompt", {}).get("bands", 0)
    per_row = 8 * 5 + 8 + 8 + 1 + 8 * bands  # hashes, lengths, row key, kept key, flag, bands
    for name, run in (("with dataset-level checks", result), ("without", off)):
        print(
            f"{name}: {run['seconds']:.1f} s, {args.pairs / run['seconds']:,.0f} pairs/s, "
            f"peak RSS {run['peak_mib']:,.0f} MiB (after imports: {run['baseline_mib']:,.0f} MiB)"
        )
    print(
        f"row signatures: {per_row} B/row = {per_row * args.pairs / 2**20:,.0f} MiB; "
        f"MinHash on disk: {4 * 128 * args.pairs / 2**20 if bands else 0:,.0f} MiB"
    )
    print(f"rows per reason: {result['counts']}")
    print(f"summary: {json.dumps(result['summary'])}")


if __name__ == "__main__":
    main()
