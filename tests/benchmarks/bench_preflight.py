"""Pre-flight throughput (pairs/s) against tokenizing the same data once, in one run.

A script, not a test: it prints figures and asserts nothing about time.

    python tests/benchmarks/bench_preflight.py [--pairs 100000] [--repeats 3] [--trl 5000]

Synthetic text pairs (a 1-3 sentence prompt, 1-6 sentence responses) and a byte-level
BPE trained offline. Timed, alternating, best of ``--repeats``:

* ``once, transformers``: ``tokenizer(texts)["input_ids"]`` over every prompt, chosen
  and rejected text (each field tokenized once, the usual way);
* ``once, backend ids``: the same texts through the Rust tokenizer directly
  (``encode_batch_fast``), reading each text's ids;
* ``once, backend counts``: the same, reading only each text's length: the fastest
  honest floor for a token count of each field;
* ``as TRL``: the three batch encodings TRL's inputs need (prompt, prompt + chosen +
  EOS, prompt + rejected + EOS), :func:`prefdata.tokenization.encode_pairs`;
* ``preflight``: the whole pre-flight (tokenization, boundaries, decisions, ledger);
* ``preflight (transformers call)``: the same with prefdata's direct backend path
  turned off (``backend_of`` returns None), i.e. through ``tokenizer(...)`` as before
  (with the rest of today's changes, the collector pause included) (for ``--trainer llamafactory`` that is still the
  batched encoding, which replaced one ``encode`` per template part per pair).

``--prompt-share K`` gives each prompt to K pairs (the floors tokenize it K times, as
the data holds it K times; the pre-flight tokenizes it alone once). ``--data chat``
makes each side one message (the floors still tokenize the bare texts;
rendering the chat template is work the trainer adds); ``--trainer llamafactory`` times
its pre-flight instead of TRL's.

Every ratio is printed against each floor. The floors run with the cycle collector
paused, as prefdata's encoding does (``no_cycle_collection``), so the pause does not
flatter the pre-flight. The prompt is tokenized three times by
construction (alone, and at the start of each full sequence, as TRL does), so against a
floor that tokenizes it once the pre-flight does more tokenizer work, not less.

With ``--trl N`` it also times TRL's own ``_prepare_dataset`` on the first N pairs
(single process), for scale.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "hello",
    "world",
    "how",
    "are",
    "you",
    "today",
    "fine",
    "thank",
    "preheat",
    "oven",
    "roast",
    "vegetables",
    "for",
    "twenty",
    "minutes",
    "direct",
    "preference",
    "optimization",
    "trains",
    "a",
    "policy",
    "from",
    "pairs",
]


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))).capitalize() + "."


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(lo, hi)))


def pairs(n: int, seed: int = 0, share: int = 1) -> pa.Table:
    """``n`` pairs; each prompt is used by ``share`` consecutive pairs."""
    rng = random.Random(seed)
    prompts = [_text(rng, 1, 3) + "\n" for _ in range(-(-n // share))]
    return pa.table(
        {
            "id": [str(i) for i in range(n)],
            "prompt": [prompts[i // share] for i in range(n)],
            "chosen": [_text(rng, 1, 6) for _ in range(n)],
            "rejected": [_text(rng, 1, 6) for _ in range(n)],
        }
    )


def _best(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trl", type=int, default=0, help="also time TRL on this many pairs")
    parser.add_argument(
        "--data",
        choices=("text", "chat"),
        default="text",
        help="chat: one user and one "
        "assistant message per side, through the tokenizer's chat template",
    )
    parser.add_argument("--trainer", choices=("trl", "llamafactory"), default="trl")
    parser.add_argument(
        "--prompt-share",
        type=int,
        default=1,
        help="pairs per prompt (several responses to one prompt, paired up)",
    )
    args = parser.parse_args()

    import prefdata.tokenization as tokenization
    from prefdata.preflight import preflight
    from prefdata.tokenization import encode_pairs, load_tokenizer
    from tests.conftest import train_tiny_tokenizer

    folder = Path(tempfile.mkdtemp()) / "tok"
    tokenizer = load_tokenizer(str(train_tiny_tokenizer(folder)))
    backend = tokenization.backend_of(tokenizer)
    assert backend is not None, "the benchmark's tokenizer must take the direct path"
    table = pairs(args.pairs, share=args.prompt_share)
    cols = [table.column(c).to_pylist() for c in ("prompt", "chosen", "rejected")]
    every_text = cols[0] + cols[1] + cols[2]  # the floors tokenize the texts themselves
    if args.data == "chat":
        roles = ("user", "assistant", "assistant")
        cols = [[[{"role": r, "content": t}] for t in c] for r, c in zip(roles, cols, strict=True)]
        table = pa.table(
            {
                "id": table.column("id"),
                **dict(zip(("prompt", "chosen", "rejected"), cols, strict=True)),
            }
        )

    def transformers_call(fn: Any) -> Any:
        def run() -> Any:
            direct = tokenization.backend_of
            tokenization.backend_of = lambda _tokenizer: None  # type: ignore[assignment]
            try:
                return fn()
            finally:
                tokenization.backend_of = direct

        return run

    def as_trl() -> Any:
        return encode_pairs(tokenizer, *cols)

    def whole() -> Any:
        return preflight(table, tokenizer, trainer=args.trainer, max_length=128)

    def paused(fn: Any) -> Any:  # the floors get the collector pause prefdata uses too
        def run() -> Any:
            with tokenization.no_cycle_collection():
                return fn()

        return run

    floors = {
        "once, transformers": paused(lambda: tokenizer(every_text)["input_ids"]),
        "once, backend ids": paused(lambda: [e.ids for e in backend.encode_batch_fast(every_text)]),
        "once, backend counts": paused(
            lambda: [len(e) for e in backend.encode_batch_fast(every_text)]
        ),
    }
    runs = {
        **floors,
        **({"as TRL": as_trl} if args.trainer == "trl" else {}),
        "preflight": whole,
        "preflight (transformers call)": transformers_call(whole),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):  # alternate, so load changes hit every variant alike
        for name, fn in runs.items():
            best[name] = min(best[name], _best(fn, 1))
    print(
        f"{args.pairs} {args.data} pairs ({3 * args.pairs} texts, {args.prompt_share} per "
        f"prompt), {args.trainer}, "
        f"best of {args.repeats}, alternating"
    )
    header = "".join(f"  {'x ' + name.split(', ')[1]:>16s}" for name in floors)
    print(f"  {'':30s} {'seconds':>8s} {'pairs/s':>9s}{header}")
    for name, seconds in best.items():
        ratios = "".join(f"  {seconds / best[f]:16.2f}" for f in floors)
        print(f"  {name:30s} {seconds:8.2f} {args.pairs / seconds:9.0f}{ratios}")
    if args.trl:
        print(
            f"  TRL _prepare_dataset on {args.trl} pairs: {_trl_seconds(table, tokenizer, args.trl):.2f} s"
        )


def _trl_seconds(table: pa.Table, tokenizer: Any, n: int) -> float:
    import warnings
    from types import SimpleNamespace

    from datasets import Dataset
    from trl import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = DPOConfig(
            output_dir="unused", max_length=128, report_to=[], bf16=False, use_cpu=True
        )
    dataset = Dataset.from_list(table.slice(0, n).to_pylist())
    start = time.perf_counter()
    DPOTrainer._prepare_dataset(
        SimpleNamespace(_tokenizer=tokenizer), dataset, tokenizer, config, "b"
    )  # type: ignore[arg-type]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
