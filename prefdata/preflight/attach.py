"""Pre-flight as an option of ``filter`` and ``validate``: the same plan and ledger as
``prefdata preflight``, run on the pairs those commands see, for a CI gate.

* ``validate``: on the input file, read the way the trainer would get it (``source``);
* ``filter``: on the kept pairs, in the run's staging folder before it is published,
  so ``preflight.parquet`` and ``preflight.json`` appear in OUT with the rest at once.

The ledger put in ``report.json`` carries a histogram of the tokens each side loses,
for report.html's pre-flight section (report.html is built from report.json alone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import ConfigError
from prefdata.preflight import (
    DEFAULT_MAX_LENGTH,
    LEDGER_FILE,
    PER_PAIR_FILE,
    TRAINERS,
    Preflight,
    codes,
    preflight,
    source,
    trl,
)

HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class PreflightOptions:
    """What ``--preflight-*`` asks for; ``max_length`` None is the trainer's default."""

    tokenizer: str
    trainer: str = "trl"
    max_length: int | None = None
    truncation_mode: str = "keep_start"
    fail_on: tuple[str, ...] = ()
    template: str | None = None  # a LLaMA-Factory named template; None: the tokenizer's

    def check(self) -> None:
        """Refuse bad settings before the (long) pass over the data, not after it."""
        if self.trainer not in TRAINERS:
            raise ConfigError(
                f"--preflight-trainer must be one of {list(TRAINERS)}, got {self.trainer!r}"
            )
        if self.truncation_mode not in trl.TRUNCATION_MODES:
            raise ConfigError(
                f"--preflight-truncation-mode must be one of {list(trl.TRUNCATION_MODES)}, "
                f"got {self.truncation_mode!r}"
            )
        if self.template is not None:
            from prefdata.preflight.lf_templates import NAMED

            if self.trainer != "llamafactory":
                raise ConfigError(
                    "--preflight-template names a LLaMA-Factory template; TRL uses the "
                    "tokenizer's chat template: add --preflight-trainer llamafactory"
                )
            if self.template not in NAMED:
                raise ConfigError(
                    f"--preflight-template {self.template!r} is not modelled; known: "
                    f"{sorted(NAMED)}, or leave it out to parse the tokenizer's chat template"
                )
        unknown = [c for c in self.fail_on if c not in codes.ALL]
        if unknown:
            raise ConfigError(
                f"--preflight-fail-on: unknown reason code(s) {unknown}; known: {list(codes.ALL)}"
            )
        if not Path(self.tokenizer).is_dir():
            raise ConfigError(
                f"--preflight-tokenizer {self.tokenizer}: no such folder; "
                "pass a local Hugging Face tokenizer folder"
            )

    @property
    def limit(self) -> int | None:
        return self.max_length or DEFAULT_MAX_LENGTH.get(self.trainer)


def _run(table: pa.Table, unreadable: dict[str, int], options: PreflightOptions) -> Preflight:
    from prefdata.tokenization import load_tokenizer

    result = preflight(
        table,
        load_tokenizer(options.tokenizer),
        trainer=options.trainer,
        max_length=options.limit,
        truncation_mode=options.truncation_mode,
        unreadable=unreadable,
        template=options.template,
    )
    result.ledger["tokens_lost_histogram"] = lost_histogram(result.per_pair)
    return result


def lost_histogram(per_pair: pa.Table, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Pairs by tokens lost, per side, on shared bins: [0, 1) first, so the pairs that lose
    nothing stand apart from those that lose a little; the last bin is open-ended."""
    chosen = per_pair.column("chosen_tokens_lost").to_numpy()
    rejected = per_pair.column("rejected_tokens_lost").to_numpy()
    top = int(max(chosen.max(initial=0), rejected.max(initial=0)))
    step = max(1, -(-top // (bins - 1)))  # ceil: bins - 1 bins above zero cover the largest
    edges = [0, 1, *(1 + step * i for i in range(1, bins))]
    edges.append(edges[-1] + step)  # the open last bin's nominal end
    inner = np.asarray(edges[:-1])

    def counts(values: np.ndarray) -> list[int]:
        where = np.searchsorted(inner, values, side="right") - 1
        return np.bincount(where, minlength=len(inner)).astype(int).tolist()

    # whole tokens: bin [lo, hi) is "lo-(hi-1)"; the first is exactly 0
    labels = ["0"]
    labels += [f"{lo}-{hi - 1}" if hi - 1 > lo else str(lo) for lo, hi in pairwise(edges[1:-1])]
    labels.append(f"{edges[-2]}+")
    return {
        "edges": edges,
        "labels": labels,
        "chosen": counts(chosen),
        "rejected": counts(rejected),
    }


def of_input(path: str | Path, options: PreflightOptions) -> Preflight:
    """The pre-flight of one input file, read as the trainer would get it."""
    table, unreadable = source.load(path)
    return _run(table, unreadable, options)


def into_result(folder: Path, kept: Path, options: PreflightOptions) -> dict[str, Any]:
    """Plan the kept pairs (``kept``: a Parquet file or a folder of parts) and write the
    per-pair file and the ledger into ``folder``; the ledger, for report.json."""
    table = pq.read_table(kept)
    if table.num_rows == 0:
        # nothing kept: no trainer sees a pair, so there is nothing to plan
        ledger: dict[str, Any] = {"trainer": options.trainer, "rows_in": 0, "skipped": True}
        (folder / LEDGER_FILE).write_text(json.dumps(ledger, indent=2) + "\n")
        return ledger
    wanted = [c for c in ("id", *source.CANONICAL) if c in table.column_names]
    result = _run(table.select(wanted), {}, options)
    pq.write_table(result.per_pair, folder / PER_PAIR_FILE)
    (folder / LEDGER_FILE).write_text(json.dumps(result.ledger, indent=2) + "\n")
    return result.ledger


def gate(ledger: dict[str, Any], fail_on: tuple[str, ...]) -> dict[str, int]:
    """The ``fail_on`` codes the ledger counts, with their counts (empty: the gate passes)."""
    reasons = {**ledger.get("reasons", {}), **ledger.get("dropped_by_reason", {})}
    return {c: n for c in fail_on if (n := reasons.get(c, 0))}
