"""Throughput and peak memory at scale: local engine, Ray engine, and the pyarrow floor.

On generated explicit-prompt text pairs (TRL layout, ~2% identical, ~8% too short,
~5% near-duplicates), written once as Parquet (row groups of 64k rows) and as JSONL:

* **floor**: read the Parquet and write it back as zstd Parquet with pyarrow alone,
  the least any tool that reads and writes this data must pay;
* **local**: ``filter_pairs`` with the default local engine (a process per core);
* **local1**: the same with ``workers=1`` (everything in one process);
* **ray**: ``filter_pairs(engine="ray")`` on a local Ray instance with 2 CPUs, timed
  with and without Ray's start-up.

Each configuration runs in a fresh process; its peak memory is the largest sum of RSS
over the process and all its descendants (worker processes, Ray's raylet and workers),
sampled every 50 ms. Shared pages (Ray's object store) can be counted more than once,
so the Ray figure is an upper bound.

    python tests/benchmarks/bench_scale.py [--pairs 1000000] [--repeat 2] [--only local,floor]

Not a test: it asserts nothing and prints figures and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

_VOCABULARY = (
    "the a model answer data pair prefer chosen rejected quick brown fox jumps over lazy dog "
    "because therefore however python arrow parquet column batch vector kernel memory disk "
    "question explain why how what when reason example result value"
)
WORDS = np.array(_VOCABULARY.split(" "))


def _texts(rng: np.random.Generator, n: int, low: int, high: int) -> list[str]:
    lengths = rng.integers(low, high, n)
    words = WORDS[rng.integers(0, len(WORDS), int(lengths.sum()))]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(words[bounds[i] : bounds[i + 1]]) for i in range(n)]


def generate(n: int, folder: Path, block: int = 100_000) -> tuple[Path, Path]:
    """n pairs as Parquet and as JSONL, written block by block."""
    rng = np.random.default_rng(0)
    parquet, jsonl = folder / "pairs.parquet", folder / "pairs.jsonl"
    writer: pq.ParquetWriter | None = None
    with open(jsonl, "wb") as f:
        for start in range(0, n, block):
            m = min(block, n - start)
            prompt = _texts(rng, m, 5, 30)
            chosen = _texts(rng, m, 8, 80)
            rejected = _texts(rng, m, 3, 60)
            kind = rng.random(m)
            for i in np.flatnonzero(kind < 0.02):
                rejected[i] = chosen[i]  # identical_pair
            for i in np.flatnonzero((kind >= 0.02) & (kind < 0.07)):
                rejected[i] = chosen[i] + " ok"  # too_similar
            for i in np.flatnonzero((kind >= 0.07) & (kind < 0.15)):
                chosen[i] = "short"  # chosen_too_short
            table = pa.table({"prompt": prompt, "chosen": chosen, "rejected": rejected})
            if writer is None:
                writer = pq.ParquetWriter(parquet, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=64 * 1024)
            for row in table.to_pylist():
                f.write(json.dumps(row).encode() + b"\n")
    assert writer is not None
    writer.close()
    return parquet, jsonl


def _floor(path: str, out: str) -> dict[str, Any]:
    rows = 0
    pf = pq.ParquetFile(path)
    with pq.ParquetWriter(Path(out) / "copy.parquet", pf.schema_arrow, compression="zstd") as w:
        for batch in pf.iter_batches(batch_size=8192):
            w.write_batch(batch)
            rows += batch.num_rows
    return {"rows": rows}


def _local(path: str, out: str) -> dict[str, Any]:
    from prefdata.pipeline import filter_pairs

    report = filter_pairs([path], out)
    return {
        "rows": report.input_rows,
        "kept": report.kept_rows,
        "workers": report.timings["workers"],
    }


def _local1(path: str, out: str) -> dict[str, Any]:
    """The local engine in this one process: no pool, nothing pickled between processes."""
    from prefdata.config import FilterConfig
    from prefdata.pipeline import filter_pairs

    report = filter_pairs([path], out, config=FilterConfig(workers=1))
    return {"rows": report.input_rows, "kept": report.kept_rows, "workers": 1}


def _ray(path: str, out: str) -> dict[str, Any]:
    from prefdata.engines.ray_engine import init_ray
    from prefdata.pipeline import filter_pairs

    start = time.perf_counter()
    init_ray(num_cpus=2)
    startup = time.perf_counter() - start
    report = filter_pairs([path], out, engine="ray")
    return {"rows": report.input_rows, "kept": report.kept_rows, "startup_s": startup}


JOBS = {"floor": _floor, "local": _local, "local1": _local1, "ray": _ray}


def _child(job: str, path: str, out: str, queue: Any) -> None:
    start = time.perf_counter()
    result = JOBS[job](path, out)
    result["seconds"] = time.perf_counter() - start
    queue.put(result)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a process that ended meanwhile
            total += p.memory_info().rss
    return total


def measure(job: str, path: Path, folder: Path) -> dict[str, Any]:
    """One run in a fresh process: its own figures plus the tree's peak RSS."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory(dir=folder) as out:
        proc = ctx.Process(target=_child, args=(job, str(path), out, queue))
        proc.start()
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.is_alive() and queue.empty():
            peak = max(peak, _tree_rss(watched))
            time.sleep(0.05)
        proc.join(timeout=60)
        if queue.empty():
            raise RuntimeError(f"{job} on {path.name} failed (exit code {proc.exitcode})")
        result = queue.get()
    result["peak_mib"] = peak / 2**20
    return result


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:,.0f}"
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="floor,local,local1,ray", help="comma-separated jobs")
    parser.add_argument("--inputs", default="parquet,jsonl", help="comma-separated inputs")
    parser.add_argument(
        "--data",
        default=None,
        help="keep the generated data in this folder "
        "and reuse it on later runs (default: a temporary folder)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data or tmp) / str(args.pairs)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        parquet, jsonl = folder / "pairs.parquet", folder / "pairs.jsonl"
        if not (parquet.exists() and jsonl.exists()):
            parquet, jsonl = generate(args.pairs, folder)
        print(
            f"generated {args.pairs:,} pairs in {time.perf_counter() - start:.0f} s: "
            f"Parquet {parquet.stat().st_size / 1e6:.0f} MB, JSONL {jsonl.stat().st_size / 1e6:.0f} MB"
        )
        print(f"cores: {psutil.cpu_count()}, load average: {psutil.getloadavg()}")
        rates: dict[tuple[str, str], float] = {}
        peaks: dict[tuple[str, str], float] = {}
        for kind in args.inputs.split(","):
            path = parquet if kind == "parquet" else jsonl
            for job in args.only.split(","):
                if job == "floor" and kind != "parquet":
                    continue
                runs = [measure(job, path, Path(tmp)) for _ in range(args.repeat)]
                pps = [r["rows"] / r["seconds"] for r in runs]
                line = (
                    f"{kind:8} {job:6} pairs/s {_spread(pps)}; "
                    f"peak RSS MiB {_spread([r['peak_mib'] for r in runs])}"
                )
                if job == "ray":
                    warm = [r["rows"] / (r["seconds"] - r["startup_s"]) for r in runs]
                    line += f"; without Ray start-up ({runs[0]['startup_s']:.1f} s) pairs/s {_spread(warm)}"
                if "kept" in runs[0]:
                    line += f"; kept {runs[0]['kept']:,}"
                print(line, flush=True)
                rates[kind, job] = statistics.median(pps)
                peaks[kind, job] = max(r["peak_mib"] for r in runs)
        floor = rates.get(("parquet", "floor"))
        if floor:
            for (kind, job), rate in rates.items():
                if job != "floor":
                    print(
                        f"ratio: {job} on {kind} takes {floor / rate:.1f}x the pyarrow floor's time"
                    )
        if ("parquet", "local") in rates and ("parquet", "ray") in rates:
            print(
                f"ratio ray / local on parquet: {rates['parquet', 'ray'] / rates['parquet', 'local']:.2f}x"
            )


if __name__ == "__main__":
    main()
