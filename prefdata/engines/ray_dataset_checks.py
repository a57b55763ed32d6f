"""Duplicates and contradictions on Ray: signatures, a hash-partitioned shuffle, apply.

A per-pair check sees one batch; ``duplicate_pair`` and ``contradictory_pair`` compare
rows that can sit in any part on any node. Nothing is collected on the driver:

1. **Signatures**, inside each unit's task (``parts.run_unit``): for every checked row,
   where it is (part, ``source_row``), whether the per-pair checks kept it, and the
   hashes and lengths ``batch_signatures`` computes for the local engine.
2. **Shuffle**: rows are bucketed by a hash of the prompt's last turn, and Ray Data's
   ``groupby("bucket").map_groups`` brings each bucket's rows together, whatever node
   wrote them. A duplicate and a reversed pair share their prompt, so every row meets
   all rows that can decide it, and ``decisions.decide`` (the local engine's own code)
   runs on each bucket sorted into read order, giving the rows it would drop, and the
   bucket's distinct prompts for the report. Buckets, not one group per key: a group per
   key costs a Python call per distinct pair, a bucket is one vectorised call.
3. **Apply**: the dropped rows, grouped by part, each group rewriting its unit's parts
   (``decided_parts``). Only counts come back to the driver.

A bucket holds every row with one prompt (~70 bytes of hashes each): a prompt repeated in
millions of rows makes one large bucket, not a wrong result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata import reasons
from prefdata.config import FilterConfig
from prefdata.dataset.decisions import Columns, decide
from prefdata.engines.decided_parts import apply_to_part, replace_decided_parts
from prefdata.engines.parts import SIGNATURE_SCHEMA
from prefdata.errors import require
from prefdata.schema import SOURCE_FILE, SOURCE_ROW

CODES = (reasons.DUPLICATE_PAIR, reasons.CONTRADICTORY_PAIR)
# Rows per shuffle bucket at most (about 70 MiB of signatures), so memory per task stays
# bounded however large the input; small inputs get a few buckets per CPU instead.
BUCKET_ROWS = 1 << 20
# ``part`` of the one row per bucket that carries its count of distinct prompts
SUMMARY_PART = -1
_COLUMNS = ("prompt", "prompt_last", "chosen", "rejected", "chosen_chars", "rejected_chars")
_COUNTS = ("kept", "moved_chosen_longer", "moved_rejected_longer", "distinct_prompts")


@dataclass
class DatasetOutcome:
    """What the dataset-level checks changed, for the driver's report."""

    reasons: dict[str, int] = field(default_factory=dict)  # rows each code drops
    moved: int = 0  # rows the per-pair checks kept that now drop
    moved_chosen_longer: int = 0
    moved_rejected_longer: int = 0
    distinct_prompts: int = 0


def dataset_codes(config: FilterConfig) -> list[str]:
    """The dataset-level reasons this run decides, in the order ``decide`` lists them."""
    return [c for c in CODES if c not in config.disable]


def _read_signatures(batch: dict[str, np.ndarray], *, buckets: int) -> pa.Table:
    """map_batches body: a few signature parts as one block, each row given its bucket."""
    columns = [name for name in SIGNATURE_SCHEMA.names if name != SOURCE_FILE]
    table = pa.concat_tables([pq.read_table(p, columns=columns) for p in batch["path"]])
    bucket = table.column("prompt_last").to_numpy() % np.uint64(buckets)
    return table.append_column("bucket", pa.array(bucket.astype(np.int64)))


def _decide_bucket(group: pa.Table, *, config: FilterConfig) -> pa.Table:
    """map_groups body: one bucket's rows in read order through ``decide``; returns the
    rows it drops and one summary row (``part`` -1) with the bucket's distinct prompts."""
    group = group.sort_by([("part", "ascending"), (SOURCE_ROW, "ascending")])
    cols = Columns(**{name: group.column(name).to_numpy() for name in _COLUMNS})
    decided = decide(cols, config, None)
    hit = np.zeros(group.num_rows, bool)
    for mask in decided.masks.values():
        hit |= mask
    kept = group.column("kept").to_numpy(zero_copy_only=False)[hit]
    diff = (cols.chosen_chars - cols.rejected_chars)[hit]

    def rows(values: np.ndarray, summary: Any) -> np.ndarray:
        return np.append(values, np.array([summary], dtype=values.dtype))

    return pa.table(
        {
            "part": rows(group.column("part").to_numpy()[hit], SUMMARY_PART),
            SOURCE_ROW: rows(group.column(SOURCE_ROW).to_numpy()[hit], -1),
            **{code: rows(mask[hit], False) for code, mask in decided.masks.items()},
            # kept by the per-pair checks: such rows move, and the length bias of kept
            # pairs loses them
            "kept": rows(kept, False),
            "moved_chosen_longer": rows(kept & (diff > 0), False),
            "moved_rejected_longer": rows(kept & (diff < 0), False),
            "distinct_prompts": rows(
                np.zeros(int(hit.sum()), np.int64), decided.summary["distinct_prompts"]
            ),
        }
    )


def _apply(group: pa.Table, *, staging: str, codes: list[str]) -> pa.Table:
    """map_groups body: one part's dropped rows applied to its parts."""
    return pa.table({"moved": [apply_to_part(group, Path(staging), codes)]})


@contextlib.contextmanager
def _sort_shuffle(ray: Any) -> Iterator[None]:
    """Ray Data's task-based sort shuffle for datasets made inside the block.

    Ray 2.60's default (a hash shuffle with aggregator actors) took 30 s against 1.7 s
    for 3,300 rows on 2 CPUs, mostly starting actors; on 1M pairs, deciding and applying
    took 48 s with it against 7.4 s with this. A dataset keeps the context it was made
    in, so this must be set before any dataset is made.
    """
    context = ray.data.DataContext.get_current()
    default = getattr(context, "shuffle_strategy", None)
    strategies = getattr(ray.data.context, "ShuffleStrategy", None)
    if default is not None and strategies is not None:
        context.shuffle_strategy = strategies.SORT_SHUFFLE_PULL_BASED
    try:
        yield
    finally:
        if default is not None:
            context.shuffle_strategy = default


def run_dataset_checks(
    signatures: Path, config: FilterConfig, *, rows: int, staging: Path | None
) -> DatasetOutcome:
    """Decide ``dataset_codes(config)`` over the signature parts in ``signatures``
    (``rows`` of them in all); with ``staging``, also apply the decisions to its parts.
    """
    ray = require("ray", "ray")
    codes = dataset_codes(config)
    parts = sorted(signatures.glob("part-*.parquet"))
    if rows == 0 or not codes:
        return DatasetOutcome()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    buckets = max(2 * cpus, -(-rows // BUCKET_ROWS))
    with _sort_shuffle(ray):
        # Parts read in tasks, a few per block: the sort shuffle costs blocks^2 small
        # objects. read_parquet would do, but it pulls in fsspec's HTTP filesystem
        # (aiohttp), which ray[data] does not always install.
        blocks = ray.data.from_items(
            [{"path": str(p)} for p in parts], override_num_blocks=min(len(parts), buckets)
        ).map_batches(
            _read_signatures, batch_size=None, batch_format="numpy", fn_kwargs={"buckets": buckets}
        )
        decided = (
            blocks.groupby("bucket")
            .map_groups(_decide_bucket, batch_format="pyarrow", fn_kwargs={"config": config})
            .materialize()  # small: the dropped rows and a row per bucket
        )
        totals = decided.sum([*codes, *_COUNTS])
        outcome = DatasetOutcome(
            reasons={code: int(totals[f"sum({code})"]) for code in codes},
            moved=int(totals["sum(kept)"]),
            moved_chosen_longer=int(totals["sum(moved_chosen_longer)"]),
            moved_rejected_longer=int(totals["sum(moved_rejected_longer)"]),
            distinct_prompts=int(totals["sum(distinct_prompts)"]),
        )
        if staging is not None and any(outcome.reasons.values()):
            from ray.data.expressions import col

            applied = (
                decided.filter(expr=col("part") != SUMMARY_PART)
                .groupby("part")
                .map_groups(
                    _apply,
                    batch_format="pyarrow",
                    fn_kwargs={"staging": str(staging), "codes": codes},
                )
            )
            moved = int(applied.sum("moved"))
            assert moved == outcome.moved, f"moved {moved} rows, decided {outcome.moved}"
            replace_decided_parts(staging)
    return outcome
