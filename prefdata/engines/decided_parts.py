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
only read, so a task that runs twice (a retry) writes the same files again. Nothing here
imports Ray.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefdata.chunks import as_dropped, concat_lists, reason_lists
from prefdata.engines.parts import DROPPED_DIR, KEPT_DIR, SIGNATURES_DIR, part_name
from prefdata.schema import REASONS, SOURCE_FILE, SOURCE_ROW
from prefdata.writer import COMPRESSION, conform, widen

DECIDED_DIR = "decided"


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if table.num_rows:
        pq.write_table(table, tmp, compression=COMPRESSION)
    else:  # no row group at all: `datasets` fails on an empty one (see ParquetSink._flush)
        pq.ParquetWriter(tmp, table.schema, compression=COMPRESSION).close()
    os.replace(tmp, path)


def apply_to_part(decided: pa.Table, staging: Path, codes: Sequence[str]) -> int:
    """Rewrite part ``decided["part"][0]`` into ``staging/decided/``; returns rows moved.

    ``decided`` holds that part's rows a dataset-level reason drops: ``source_row``,
    ``kept`` (the per-pair checks kept it) and one boolean column per code in ``codes``,
    in the order their reasons are listed.
    """
    part = part_name(int(decided.column("part")[0].as_py()))
    decided = decided.sort_by(SOURCE_ROW)
    flagged = decided.column(SOURCE_ROW).to_numpy()
    matrix = np.column_stack([decided.column(c).to_numpy(zero_copy_only=False) for c in codes])
    extra = reason_lists(list(codes), matrix.reshape(len(flagged), len(codes)))
    moving = decided.column("kept").to_numpy(zero_copy_only=False)

    # a kept row's place in the kept part: its rank among the unit's kept rows
    signatures = pq.read_table(
        staging / SIGNATURES_DIR / part, columns=[SOURCE_ROW, "kept", SOURCE_FILE]
    )
    kept_mask = signatures.column("kept").to_numpy(zero_copy_only=False)
    kept_rows = signatures.column(SOURCE_ROW).to_numpy()[kept_mask]
    kept_files = signatures.column(SOURCE_FILE).filter(pa.array(kept_mask))
    at = np.searchsorted(kept_rows, flagged[moving])
    assert np.array_equal(kept_rows[at], flagged[moving]), f"{part}: a moved row is not kept"

    kept = pq.read_table(staging / KEPT_DIR / part)
    stay = np.ones(kept.num_rows, bool)
    stay[at] = False
    moved_rows = kept.take(pa.array(at))
    moved = as_dropped(
        moved_rows,
        extra.filter(pa.array(moving)),
        kept_files.take(pa.array(at)),
        pa.array(flagged[moving], pa.int64()),
    )

    dropped = pq.read_table(staging / DROPPED_DIR / part)
    dropped_rows = dropped.column(SOURCE_ROW).to_numpy()
    where = np.searchsorted(dropped_rows, flagged[~moving])
    assert np.array_equal(dropped_rows[where], flagged[~moving]), f"{part}: a row is missing"
    appended = np.zeros((dropped.num_rows, len(codes)), bool)
    appended[where] = matrix[~moving]
    reasons = concat_lists(
        dropped.column(REASONS).combine_chunks(), reason_lists(list(codes), appended)
    )
    dropped = dropped.set_column(dropped.schema.get_field_index(REASONS), REASONS, reasons)

    # the local engine's sink widens a part's schema the same way when a chunk's dropped
    # rows first bring a column only kept rows had
    schema = widen(dropped.schema, moved.schema)
    batches = []
    for batch in (*dropped.to_batches(), *moved.to_batches()):
        fitted = conform(batch, schema, force=True)
        assert fitted is not None  # the schema was widened to fit both
        batches.append(fitted)
    merged = pa.Table.from_batches(batches, schema=schema)
    merged = merged.take(pc.sort_indices(merged.column(SOURCE_ROW)))
    _write(kept.filter(pa.array(stay)), staging / DECIDED_DIR / KEPT_DIR / part)
    _write(merged, staging / DECIDED_DIR / DROPPED_DIR / part)
    return len(at)


def replace_decided_parts(staging: Path) -> None:
    """Move the rewritten parts over the originals (once every part has been rewritten)."""
    for folder in (KEPT_DIR, DROPPED_DIR):
        for part in sorted((staging / DECIDED_DIR / folder).glob("part-*.parquet")):
            os.replace(part, staging / folder / part.name)
