"""Label store figures on a store of 100k pairs: next-pair and label-write latency.

A script, not a test: it prints figures and asserts nothing about time.

    python tests/benchmarks/bench_label_store.py [--pairs 100000] [--writers 4]

Scenarios:
* import: 100k pairs from Parquet into a fresh database;
* next pair, fresh store: the queue head is unlabelled;
* next pair, busy store: 30% of pairs carry 1-2 votes and the annotator has already
  skipped the 5,000 pairs at the head of the queue (skips are not votes, so those
  pairs stay at the head and the index walk must step over every one);
* label write, alone and while N other threads write labels as fast as they can
  (each write is one BEGIN IMMEDIATE transaction: upsert + counter + event + claim).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.queue import next_pair


def _pairs(n: int) -> pa.Table:
    filler = "word " * 60  # ~300-character responses, typical of short chat answers
    return pa.table(
        {
            "id": [f"p{i:06d}" for i in range(n)],
            "prompt": [f"Prompt {i}: {filler}" for i in range(n)],
            "chosen": [f"Chosen {i}: {filler}" for i in range(n)],
            "rejected": [f"Rejected {i}: {filler}" for i in range(n)],
        }
    )


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   max {ordered[-1] * 1000:7.3f} ms   (n={len(ordered)})"


def _time_next(store: LabelStore, annotator: str, calls: int, *, overlap: int) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        pair = next_pair(store, annotator, overlap=overlap)
        samples.append(time.perf_counter() - start)
        # answer it so the next call must find a new pair
        store.record_label(pair, annotator, choice="chosen", left_response="chosen")  # type: ignore[arg-type]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, sqlite {__import__('sqlite3').sqlite_version}, "
        f"{args.pairs} pairs, {args.writers} background writers"
    )

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "kept.parquet"
        pq.write_table(_pairs(args.pairs), data)
        store = LabelStore(Path(tmp) / "labels.sqlite")
        start = time.perf_counter()
        result = import_parquet(store, data)
        took = time.perf_counter() - start
        print(
            f"import            {result.inserted} pairs in {took:.2f} s "
            f"({result.inserted / took:,.0f} pairs/s)"
        )
        start = time.perf_counter()
        again = import_parquet(store, data)
        print(
            f"re-import         {again.unchanged} unchanged in {time.perf_counter() - start:.2f} s"
        )

        print(f"next pair, fresh  {_ms(_time_next(store, 'fresh', 500, overlap=3))}")

        # Busy store: random votes on 30% of pairs, then one annotator who has already
        # answered the 5,000 pairs at the head of the queue.
        rng = random.Random(0)
        conn = store.connection()
        conn.execute("BEGIN IMMEDIATE")
        voted = rng.sample(range(args.pairs), int(args.pairs * 0.3))
        rows = []
        for i in voted:
            for who in rng.sample(["v1", "v2", "v3"], rng.randint(1, 2)):
                rows.append((f"p{i:06d}", who))
        conn.executemany(
            "INSERT OR IGNORE INTO labels (pair_id, annotator, choice, left_response, created_at,"
            " updated_at) VALUES (?, ?, 'chosen', 'chosen', 'x', 'x')",
            rows,
        )
        conn.execute(
            "UPDATE pairs SET n_votes = (SELECT count(*) FROM labels l WHERE "
            "l.pair_id = pairs.pair_id AND l.choice != 'skip')"
        )
        head = conn.execute("SELECT pair_id FROM pairs ORDER BY n_votes, rowid LIMIT 5000")
        conn.executemany(
            "INSERT INTO labels (pair_id, annotator, choice, left_response, created_at, updated_at)"
            " VALUES (?, 'veteran', 'skip', 'chosen', 'x', 'x')",
            [tuple(r) for r in head],
        )
        conn.execute(
            "UPDATE pairs SET n_votes = (SELECT count(*) FROM labels l WHERE "
            "l.pair_id = pairs.pair_id AND l.choice != 'skip')"
        )
        conn.execute("COMMIT")
        print(f"                  {len(rows) + 5000:,} labels in the store")
        print(f"next pair, busy   {_ms(_time_next(store, 'veteran', 500, overlap=3))}")

        ids = [f"p{i:06d}" for i in range(args.pairs)]

        def write_samples(annotator: str, n: int) -> list[float]:
            samples = []
            for pair in rng.sample(ids, n):
                start = time.perf_counter()
                store.record_label(
                    pair, annotator, choice="rejected", left_response="chosen", comment="benchmark"
                )
                samples.append(time.perf_counter() - start)
            return samples

        print(f"label write alone {_ms(write_samples('solo', args.samples))}")

        stop = threading.Event()
        written = [0] * args.writers

        def background(worker: int) -> None:
            local = random.Random(worker)
            while not stop.is_set():
                store.record_label(
                    local.choice(ids),
                    f"bg{worker}",
                    choice="tie",
                    left_response="chosen",
                    seconds=1.0,
                )
                written[worker] += 1
            store.close()

        threads = [threading.Thread(target=background, args=(w,)) for w in range(args.writers)]
        for t in threads:
            t.start()
        start = time.perf_counter()
        loaded = write_samples("measured", args.samples)
        elapsed = time.perf_counter() - start
        nexts = _time_next(store, "loaded-next", 300, overlap=3)
        stop.set()
        for t in threads:
            t.join()
        total = sum(written) + args.samples
        print(f"label write, {args.writers} concurrent writers {_ms(loaded)}")
        print(f"                  throughput {total / elapsed:,.0f} labels/s across all writers")
        print(f"next pair, {args.writers} concurrent writers   {_ms(nexts)}")


if __name__ == "__main__":
    main()
