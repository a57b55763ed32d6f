"""Apply dataset-level decisions to one unit's parts, as the local engine's ``finish`` would.

The per-pair checks wrote a unit's kept and dropped parts before anything was known about
duplicates or contradictions. Once the shuffle has decided which rows those drop, this
rewrites one unit's parts:

* a kept row that a dataset-level reason drops moves to dropped, with those reasons,
  its ``source_file`` and ``source_row``, and ``raw`` null (as ``split_rows`` builds it);
* a row already dropped by a per-pair check gets the reasons appended after its own
  (``apply_decided`` adds the dataset-level codes as columns after the checks' codes);
* dropped rows stay in ``source_row`` order, as ``split_rows`` leaves them.

Outputs go to ``decided/kept/`` and ``decided/dropped/`` beside the originals, which are
only read, so a task that runs twice (a retry) writes the same files again; parts that
hold no decided row are not touched. The rewrite itself is ``dataset.late.apply_late``,
the one applier both engines use. Nothing here imports Ray.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.dataset.late import LateRows, Side, apply_late
from prefdata.engines.parts import DROPPED_DIR, KEPT_DIR, SIGNATURES_DIR, part_name
from prefdata.schema import SOURCE_FILE, SOURCE_ROW
from prefdata.writer import ParquetSink, dropped_sink

DECIDED_DIR = "decided"


def apply_to_part(decided: pa.Table, staging: Path, codes: Sequence[str]) -> int:
    """Rewrite part ``decided["part"][0]`` into ``staging/decided/``; returns rows moved.

    ``decided`` holds that part's rows a dataset-level reason drops: ``source_row``,
    ``kept`` (the per-pair checks kept it) and one boolean column per code in ``codes``,
    in the order their reasons are listed. Applied by ``dataset.late.apply_late``, as
    the local engine applies its late decisions; keys here are the part's source rows.
    """
    part = part_name(int(decided.column("part")[0].as_py()))
    decided = decided.sort_by(SOURCE_ROW)
    flagged = decided.column(SOURCE_ROW).to_numpy().astype(np.int64)
    matrix = np.column_stack([decided.column(c).to_numpy(zero_copy_only=False) for c in codes])
    none = np.zeros(len(flagged), np.int64)
    late = LateRows(flagged, list(codes), matrix.reshape(len(flagged), len(codes)), none, none)

    # the kept part holds no provenance: its rows' source rows and files are those of
    # the unit's kept rows, in order, in the signatures part
    signatures = pq.read_table(
        staging / SIGNATURES_DIR / part, columns=[SOURCE_ROW, "kept", SOURCE_FILE]
    )
    kept_mask = signatures.column("kept").to_numpy(zero_copy_only=False)
    kept_rows = signatures.column(SOURCE_ROW).to_numpy()[kept_mask].astype(np.int64)
    kept_files = signatures.column(SOURCE_FILE).filter(pa.array(kept_mask)).combine_chunks()
    kept = pq.ParquetFile(staging / KEPT_DIR / part)
    dropped = pq.ParquetFile(staging / DROPPED_DIR / part)
    dropped_rows = pq.read_table(staging / DROPPED_DIR / part, columns=[SOURCE_ROW])
    dropped_keys = dropped_rows.column(SOURCE_ROW).to_numpy().astype(np.int64)
    moving = late.find(kept_rows)[0]
    expected = decided.column("kept").to_numpy(zero_copy_only=False)
    assert int(moving.sum()) == int(expected.sum()), f"{part}: a moved row is not kept"
    assert int(late.find(dropped_keys)[0].sum()) == int((~expected).sum()), (
        f"{part}: a row is missing"
    )

    def where(keys: np.ndarray) -> tuple[pa.Array, pa.Array]:
        return kept_files.take(pa.array(np.searchsorted(kept_rows, keys))), pa.array(keys)

    out = staging / DECIDED_DIR
    (out / KEPT_DIR).mkdir(parents=True, exist_ok=True)
    (out / DROPPED_DIR).mkdir(parents=True, exist_ok=True)
    apply_late(
        late,
        Side(
            kept.iter_batches(),
            kept_rows,
            ParquetSink(out / KEPT_DIR / part, kept.schema_arrow),
            kept.schema_arrow,
        ),
        Side(
            dropped.iter_batches(),
            dropped_keys,
            dropped_sink(out / DROPPED_DIR / part, dropped.schema_arrow),
            dropped.schema_arrow,
        ),
        where,
    )
    return int(moving.sum())


def replace_decided_parts(staging: Path) -> None:
    """Move the rewritten parts over the originals (once every part has been rewritten)."""
    for folder in (KEPT_DIR, DROPPED_DIR):
        for part in sorted((staging / DECIDED_DIR / folder).glob("part-*.parquet")):
            os.replace(part, staging / folder / part.name)
