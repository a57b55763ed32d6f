"""Throughput of the filtering pipeline against the pyarrow floor and the reference.

Prints pairs/s for prefdata end to end (read the .jsonl.gz from disk, check, write
Parquet); for the **floor**, pyarrow alone reading the same .jsonl.gz and writing it
back as Parquet (the least any tool that reads and writes this data pays); and for the
reference design's ``validate_preference_data`` on the same pairs, pre-split and in
memory. Each round times the three one after the other (prefdata and the floor each in a
fresh process, wall and CPU time), and the medians of the rounds' ratios are printed: on
a shared 2-core machine any side alone varies by 10-40% over minutes.

    python tests/benchmarks/bench_filter.py [--pairs 200000] [--similarity indel] [--per-pair]
    python tests/benchmarks/bench_filter.py --input conversational --pairs 30000

Uses ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz replicated to --pairs when it is
there, generated pairs otherwise. ``--input conversational`` uses LLaMA-Factory's
dpo_en_demo.json (ShareGPT message lists, long responses) replicated the same way.
Imports are done before the clock starts on both sides (pandas too, which pyarrow imports
on first use: see ``_imports_done``). Not a test: it asserts nothing and prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import json
import multiprocessing as mp
import random
import resource
import statistics
import sys
import tempfile
import time
from difflib import SequenceMatcher
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

HH = REPO.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
DPO_DEMO = REPO.parent / "shared" / "data" / "llamafactory" / "dpo_en_demo.json"


def validate_preference_data(sample):
    if sample["chosen"] == sample["rejected"]:
        return False
    if len(sample["chosen"]) < 50 or len(sample["rejected"]) < 20:
        return False
    if SequenceMatcher(None, sample["chosen"], sample["rejected"]).ratio() > 0.9:  # noqa: SIM103
        return False
    return True


def _generated(n: int) -> list[dict[str, str]]:
    rng = random.Random(0)
    words = [
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
    ]
    rows = []
    for i in range(n):
        prompt = " ".join(rng.choices(words, k=20))
        chosen = " ".join(rng.choices(words, k=rng.randint(5, 80)))
        rejected = chosen if i % 50 == 0 else " ".join(rng.choices(words, k=rng.randint(3, 60)))
        rows.append(
            {
                "chosen": f"\n\nHuman: {prompt}\n\nAssistant: {chosen}",
                "rejected": f"\n\nHuman: {prompt}\n\nAssistant: {rejected}",
            }
        )
    return rows


def make_input(n: int, folder: Path, kind: str = "hh") -> tuple[Path, str]:
    if kind == "conversational":
        if not DPO_DEMO.exists():
            raise SystemExit(f"--input conversational needs {DPO_DEMO}")
        base = json.loads(DPO_DEMO.read_text(encoding="utf-8"))
        source = f"{DPO_DEMO.name} replicated"
    elif HH.exists():
        with gzip.open(HH, "rt", encoding="utf-8") as f:
            base = [json.loads(line) for line in f]
        source = f"{HH.name} replicated"
    else:
        base = _generated(min(n, 20000))
        source = "generated"
    path = folder / "pairs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        for i in range(n):
            f.write(json.dumps(base[i % len(base)], ensure_ascii=False) + "\n")
    return path, source


def _imports_done() -> None:
    """Import before the clock starts what a run imports on the way, as every module the
    floor uses is: prefdata's report writer (imported when publishing; with
    PYTHONDONTWRITEBYTECODE Python compiles it anew in every process), ISA-L's inflate,
    and pandas, which pyarrow imports on the first array it builds from Python or NumPy
    values (0.3 s, once per process; the floor's read and write never do). A command-line
    run pays these once; the figures here are the work's, not the start-up's."""
    for module in ("prefdata.reporting", "pandas", "isal.isal_zlib"):
        with contextlib.suppress(ImportError):  # not there (or not in a --baseline checkout)
            importlib.import_module(module)


def _run_pipeline(path: str, out: str, similarity: str, per_pair: bool, baseline, queue) -> None:  # type: ignore[no-untyped-def]
    if baseline:  # another checkout's prefdata, for before/after in one run
        sys.path.insert(0, baseline)
    from prefdata.config import FilterConfig
    from prefdata.dataset import DATASET_CHECKS
    from prefdata.pipeline import filter_pairs

    _imports_done()
    disable = list(DATASET_CHECKS) if per_pair else []
    start = time.perf_counter()
    report = filter_pairs([path], out, config=FilterConfig(similarity=similarity, disable=disable))
    elapsed = time.perf_counter() - start
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    peak_kib = me.ru_maxrss  # the local engine works on threads: one process
    queue.put(
        (report.input_rows, report.kept_rows, elapsed, peak_kib, cpu, report.timings["workers"])
    )


def _run_floor(path: str, out: str, queue) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    from prefdata.writer import COMPRESSION  # the floor writes as prefdata does

    start = time.perf_counter()
    with pa.input_stream(path, compression="gzip") as f:
        table = pj.read_json(f)
    Path(out).mkdir()
    pq.write_table(table, Path(out) / "copy.parquet", compression=COMPRESSION)
    elapsed = time.perf_counter() - start
    me = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((table.num_rows, elapsed, me.ru_maxrss, me.ru_utime + me.ru_stime))


def _in_process(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument(
        "--input",
        choices=["hh", "conversational"],
        default="hh",
        help="hh: HH-RLHF text transcripts; conversational: LLaMA-Factory dpo_en_demo",
    )
    parser.add_argument("--similarity", choices=["indel", "difflib"], default="indel")
    parser.add_argument(
        "--per-pair",
        action="store_true",
        help="only the per-pair checks (no dataset-level checks)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="rounds (each times both sides)")
    parser.add_argument(
        "--reference-sample",
        type=int,
        default=10_000,
        help="pairs timed for the reference function (its rate is per pair)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="a folder holding another prefdata checkout (e.g. `git archive main`): "
        "each round also times it",
    )
    args = parser.parse_args()

    from prefdata.readers.layouts import split_hh

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, source = make_input(args.pairs, folder, args.input)
        print(f"input: {args.pairs:,} pairs ({source}), {path.stat().st_size / 1e6:.1f} MB gzipped")

        # the reference on pre-split pairs in memory (splitting is not timed)
        pairs = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= args.reference_sample:
                    break
                record = json.loads(line)
                if args.input == "conversational":
                    chosen, rejected = record["chosen"]["value"], record["rejected"]["value"]
                else:
                    _, chosen, rejected = split_hh(record["chosen"], record["rejected"])
                pairs.append({"chosen": chosen, "rejected": rejected})

        # Each round times prefdata (end to end, in a fresh process so peak memory is its
        # own) and then the reference, so that both see the machine in the same state.
        checks = "per-pair checks" if args.per_pair else "all default checks"
        rates, refs, floors, walls, cpus, base_walls = [], [], [], [], [], []
        for run in range(args.repeat):
            rows, kept, elapsed, peak_kib, cpu, workers = _in_process(
                _run_pipeline,
                str(path),
                str(folder / f"out{run}"),
                args.similarity,
                args.per_pair,
                None,
            )
            rates.append(rows / elapsed)
            floor_rows, floor_s, floor_kib, floor_cpu = _in_process(
                _run_floor, str(path), str(folder / f"floor{run}")
            )
            floors.append(floor_rows / floor_s)
            if args.baseline:
                _, _, base_s, base_kib, base_cpu, _ = _in_process(
                    _run_pipeline,
                    str(path),
                    str(folder / f"base{run}"),
                    args.similarity,
                    args.per_pair,
                    args.baseline,
                )
                base_walls.append(base_s / floor_s)
                print(
                    f"round {run + 1}: baseline {base_s:.2f} s, {base_walls[-1]:.2f}x the floor's "
                    f"wall, CPU {base_cpu / floor_cpu:.2f}x, peak RSS {base_kib / 1024:.0f} MiB"
                )
            walls.append(elapsed / floor_s)
            cpus.append(cpu / floor_cpu)
            start = time.perf_counter()
            kept_ref = sum(validate_preference_data(p) for p in pairs)
            refs.append(len(pairs) / (time.perf_counter() - start))
            print(
                f"round {run + 1}: prefdata ({args.similarity}, {checks}) {rows:,} pairs in "
                f"{elapsed:.2f} s = {rates[-1]:,.0f} pairs/s, kept {kept:,}, "
                f"{workers} thread(s), CPU {cpu / rows * 1e6:.1f} us/pair, "
                f"peak RSS {peak_kib / 1024:.0f} MiB; floor (pyarrow read + write) "
                f"{floor_s:.2f} s, CPU {floor_cpu / floor_rows * 1e6:.1f} us/pair, peak RSS "
                f"{floor_kib / 1024:.0f} MiB; prefdata/floor wall {walls[-1]:.2f}x, "
                f"CPU {cpus[-1]:.2f}x; reference {refs[-1]:,.0f} pairs/s on "
                f"{len(pairs):,} pairs (kept {kept_ref:,}); ratio {rates[-1] / refs[-1]:.1f}x"
            )
        ratios = [ours / ref for ours, ref in zip(rates, refs, strict=True)]
        print(
            f"median of {args.repeat} rounds: prefdata {statistics.median(rates):,.0f} pairs/s, "
            f"floor {statistics.median(floors):,.0f} pairs/s, "
            f"reference {statistics.median(refs):,.0f} pairs/s"
        )
        print(
            f"prefdata against the floor: wall {statistics.median(walls):.2f}x "
            f"(rounds {min(walls):.2f}x-{max(walls):.2f}x), CPU {statistics.median(cpus):.2f}x; "
            f"against the reference: {statistics.median(ratios):.1f}x "
            f"(rounds {min(ratios):.1f}x-{max(ratios):.1f}x)"
        )
        if base_walls:
            print(
                f"baseline against the floor: wall {statistics.median(base_walls):.2f}x "
                f"(rounds {min(base_walls):.2f}x-{max(base_walls):.2f}x)"
            )


if __name__ == "__main__":
    main()
