"""Throughput and peak memory at scale: local engine, Ray engine, and the pyarrow floor.

On generated explicit-prompt text pairs (TRL layout, ~2% identical, ~8% too short,
~5% near-duplicates, ~3% exact repeats of an earlier pair and ~1% earlier pairs with
chosen and rejected swapped, some from earlier row groups), written once as Parquet (row
groups of 64k rows) and as JSONL:

* **floor**: read the Parquet and write it back as zstd Parquet with pyarrow alone,
  the least any tool that reads and writes this data must pay;
* **local**: ``filter_pairs`` with the default settings, dataset-level checks included
  (duplicates, contradictions, decided in the same single pass), on one thread per core;
* **local1**: the same with ``workers=1`` (no worker threads);
* **local_pp**: the local engine with the per-pair checks only;
* **ray**: ``filter_pairs(engine="ray")`` with the default settings on a local Ray
  instance with 2 CPUs (dataset-level checks through Ray's shuffle), timed with and
  without Ray's start-up;
* **ray_pp**: the same with the per-pair checks only: the difference is the shuffle.

Each configuration runs in a fresh process, its imports done before the clock starts
(pandas too, which pyarrow imports on first use); its peak memory is the largest sum of RSS
over the process and all its descendants (Ray's raylet and workers),
sampled every 50 ms. Shared pages (Ray's object store) can be counted more than once,
so the Ray figure is an upper bound.

    python tests/benchmarks/bench_scale.py [--pairs 1000000] [--repeat 2] [--only local,floor]
        [--inputs parquet] [--data DIR]   # DIR keeps the generated data for later runs
    [--baseline CHECKOUT]             # also time another checkout's prefdata, alternating

Not a test: it asserts nothing and prints figures and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
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


def _repeats(
    rng: np.random.Generator, kind: np.ndarray, columns: list[list[str]], earlier: list[list[str]]
) -> None:
    """Exact repeats (kind in [0.15, 0.18)) and swapped pairs ([0.18, 0.19)) of an earlier
    row of this block or of the block before, so that many land in another row group."""
    before = len(earlier[0])
    for i in np.flatnonzero((kind >= 0.15) & (kind < 0.19)):
        if before + i == 0:
            continue
        j = int(rng.integers(0, before + i))
        source, k = (earlier, j) if j < before else (columns, j - before)
        prompt, chosen, rejected = (column[k] for column in source)
        if kind[i] >= 0.18:
            chosen, rejected = rejected, chosen
        columns[0][i], columns[1][i], columns[2][i] = prompt, chosen, rejected


def generate(
    n: int, folder: Path, block: int = 100_000, *, jsonl_too: bool = True
) -> tuple[Path, Path | None]:
    """n pairs as Parquet (and as JSONL), written block by block."""
    rng = np.random.default_rng(0)
    parquet = folder / "pairs.parquet"
    jsonl = folder / "pairs.jsonl" if jsonl_too else None
    writer: pq.ParquetWriter | None = None
    earlier: list[list[str]] = [[], [], []]
    with open(jsonl or os.devnull, "wb") as f:
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
            _repeats(rng, kind, [prompt, chosen, rejected], earlier)
            earlier = [prompt, chosen, rejected]
            table = pa.table({"prompt": prompt, "chosen": chosen, "rejected": rejected})
            if writer is None:
                writer = pq.ParquetWriter(parquet, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=64 * 1024)
            if jsonl is not None:
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


PER_PAIR = ["duplicate_pair", "contradictory_pair"]


def _filter(path: str, out: str, **settings: Any) -> dict[str, Any]:
    from prefdata.config import FilterConfig
    from prefdata.pipeline import filter_pairs

    engine = settings.pop("engine", "local")
    startup = 0.0
    if engine == "ray":
        from prefdata.engines.ray_engine import init_ray

        start = time.perf_counter()
        init_ray(num_cpus=2)
        startup = time.perf_counter() - start
    report = filter_pairs([path], out, config=FilterConfig(**settings), engine=engine)
    return {
        "rows": report.input_rows,
        "kept": report.kept_rows,
        "duplicates": report.reasons.get("duplicate_pair"),
        "contradictions": report.reasons.get("contradictory_pair"),
        "workers": report.timings["workers"],
        "startup_s": startup,
    }


JOBS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "floor": _floor,
    "local": partial(_filter),
    "local1": partial(_filter, workers=1),  # no worker threads
    "local_pp": partial(_filter, disable=PER_PAIR),
    "ray": partial(_filter, engine="ray"),
    "ray_pp": partial(_filter, engine="ray", disable=PER_PAIR),
}


def _imports_done() -> None:
    """What a run imports on the way, imported before the clock starts (see
    ``bench_filter._imports_done``): prefdata, its report writer, ISA-L, and pandas,
    which pyarrow imports on the first array it builds from Python or NumPy values."""
    for module in ("prefdata.pipeline", "prefdata.reporting", "pandas", "isal.isal_zlib"):
        with contextlib.suppress(ImportError):  # not there (or not in a --baseline checkout)
            importlib.import_module(module)


def _child(job: str, path: str, out: str, queue: Any, baseline: str | None = None) -> None:
    if job == "baseline":  # the same default run, with another checkout's prefdata
        assert baseline is not None, "--baseline DIR"
        sys.path.insert(0, baseline)
        job = "local"
    if job != "floor":  # imports before the clock, as the floor's pyarrow
        _imports_done()
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


def measure(job: str, path: Path, folder: Path, baseline: str | None = None) -> dict[str, Any]:
    """One run in a fresh process: its own figures plus the tree's peak RSS."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory(dir=folder) as out:
        proc = ctx.Process(target=_child, args=(job, str(path), out, queue, baseline))
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
    parser.add_argument(
        "--only", default="floor,local,local_pp,ray,ray_pp", help=f"comma-separated: {list(JOBS)}"
    )
    parser.add_argument("--inputs", default="parquet,jsonl", help="comma-separated inputs")
    parser.add_argument(
        "--data",
        default=None,
        help="keep the generated data in this folder "
        "and reuse it on later runs (default: a temporary folder)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="a folder holding another prefdata checkout (e.g. `git archive main`); "
        "adds the job 'baseline': its default local run, for before/after in one run",
    )
    args = parser.parse_args()
    if args.baseline and "baseline" not in args.only:
        args.only += ",baseline"
    kinds = args.inputs.split(",")
    if args.data:  # outputs go there too: big runs need its disk, not /tmp's
        Path(args.data).mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        folder = Path(args.data or tmp) / str(args.pairs)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        parquet, jsonl = folder / "pairs.parquet", folder / "pairs.jsonl"
        if not (parquet.exists() and (jsonl.exists() or "jsonl" not in kinds)):
            generate(args.pairs, folder, jsonl_too="jsonl" in kinds)
        sizes = ", ".join(
            f"{p.suffix[1:]} {p.stat().st_size / 1e6:,.0f} MB"
            for p in (parquet, jsonl)
            if p.exists()
        )
        print(f"{args.pairs:,} pairs ready in {time.perf_counter() - start:.0f} s: {sizes}")
        print(f"cores: {psutil.cpu_count()}, load average: {psutil.getloadavg()}")
        rates: dict[tuple[str, str], float] = {}
        peaks: dict[tuple[str, str], float] = {}
        jobs = args.only.split(",")
        for kind in kinds:
            path = parquet if kind == "parquet" else jsonl
            here = [j for j in jobs if j != "floor" or kind == "parquet"]
            # rounds alternate the jobs, so each round's ratios compare runs made under
            # the same load (the shared machine's speed drifts 10-40% over minutes)
            runs: dict[str, list[dict[str, Any]]] = {job: [] for job in here}
            for _ in range(args.repeat):
                for job in here:
                    runs[job].append(measure(job, path, Path(tmp), args.baseline))
            for job in here:
                done = runs[job]
                pps = [r["rows"] / r["seconds"] for r in done]
                line = (
                    f"{kind:8} {job:8} pairs/s {_spread(pps)}; "
                    f"peak RSS MiB {_spread([r['peak_mib'] for r in done])}"
                )
                if job.startswith("ray"):
                    warm = [r["rows"] / (r["seconds"] - r["startup_s"]) for r in done]
                    line += f"; without Ray start-up ({done[0]['startup_s']:.1f} s) pairs/s {_spread(warm)}"
                if "kept" in done[0]:
                    line += f"; kept {done[0]['kept']:,}"
                if done[0].get("duplicates") is not None:
                    line += (
                        f" (duplicate_pair {done[0]['duplicates']:,}, "
                        f"contradictory_pair {done[0]['contradictions']:,})"
                    )
                print(line, flush=True)
                rates[kind, job] = statistics.median(pps)
                peaks[kind, job] = max(r["peak_mib"] for r in done)
            floor = runs.get("floor") if kind == "parquet" else None
            for job in here:
                if floor and job != "floor":
                    ratios = [
                        r["seconds"] / f["seconds"] for r, f in zip(runs[job], floor, strict=True)
                    ]
                    print(
                        f"ratio: {job} on {kind} takes {statistics.median(ratios):.2f}x the "
                        f"pyarrow floor's time (median of {len(ratios)} alternating rounds, "
                        f"{min(ratios):.2f}x-{max(ratios):.2f}x)"
                    )
        for kind in kinds:
            for ray, local in (("ray", "local"), ("ray_pp", "local_pp"), ("ray", "ray_pp")):
                if (kind, ray) in rates and (kind, local) in rates:
                    print(
                        f"ratio {ray} / {local} on {kind}: pairs/s "
                        f"{rates[kind, ray] / rates[kind, local]:.2f}x, peak memory "
                        f"{peaks[kind, ray] / peaks[kind, local]:.1f}x"
                    )


if __name__ == "__main__":
    main()
