"""One work unit in, one kept part and one dropped part out, plus its counters.

``run_unit`` is what a distributed worker runs: ``process_chunk`` on each of the unit's
chunks (the same function the local engine calls), the rows written straight to
``kept/part-NNNNNN.parquet`` and ``dropped/part-NNNNNN.parquet`` under a staging folder,
and only a small ``UnitSummary`` sent back. Part numbers follow input order, so reading
the parts in name order gives the rows in the local engine's order.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.chunks import ChunkResult, process_chunk
from prefdata.config import FilterConfig
from prefdata.engines.work_units import WorkUnit
from prefdata.readers.sources import RawChunk
from prefdata.schema import SOURCE_FILE, SOURCE_ROW, canonical_fields, provenance_fields
from prefdata.stats import Stats
from prefdata.writer import COMPRESSION, ParquetSink, conform, widen

KEPT_DIR, DROPPED_DIR, SIGNATURES_DIR = "kept", "dropped", "signatures"

# A dataset-level check's per-row key, computed from kept rows, e.g. a content hash.
Signature = Callable[[pa.RecordBatch], pa.Array]
SIGNATURE_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("part", pa.int64()),
        ("row", pa.int64()),  # position in the kept part
        (SOURCE_FILE, pa.string()),
        (SOURCE_ROW, pa.int64()),
    ]
)


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


@dataclass
class UnitSummary:
    """What one unit counted; the driver adds these up into the report."""

    index: int
    input_index: int
    rows: int = 0
    kept_rows: int = 0
    dropped_rows: int = 0
    bytes: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    stats: Stats = field(default_factory=Stats)
    warnings: list[str] = field(default_factory=list)


def base_schemas(shape: str | None) -> tuple[pa.Schema, pa.Schema]:
    """The kept and dropped schemas of an output with no rows (as the local engine's)."""
    base = pa.schema(canonical_fields("conversational" if shape == "conversational" else "text"))
    return base, pa.schema([*base, *provenance_fields()])


def run_unit(
    unit: WorkUnit,
    config: FilterConfig,
    staging: str | None,
    shape: str | None,
    signature: Signature | None = None,
) -> UnitSummary:
    """Check every chunk of ``unit``; with ``staging``, write its kept and dropped parts.

    With ``signature``, also ``signatures/part-NNNNNN.parquet``: one row per kept row
    (its key, part, row in the part and provenance) for dataset-level checks.
    """
    summary = UnitSummary(unit.index, unit.input_index, bytes=unit.bytes)
    sinks: tuple[ParquetSink, ParquetSink] | None = None
    signatures: ParquetSink | None = None
    if staging is not None:
        sinks = (
            ParquetSink(Path(staging, KEPT_DIR, part_name(unit.index))),
            ParquetSink(Path(staging, DROPPED_DIR, part_name(unit.index))),
        )
        if signature is not None:
            signatures = ParquetSink(Path(staging, SIGNATURES_DIR, part_name(unit.index)))
    warnings: dict[str, None] = {}
    for chunk in unit.raw_chunks(config.batch_size):
        result = process_chunk(chunk, unit.layout, config)
        if signatures is not None and signature is not None:
            signatures.write(
                _signature_rows(chunk, result, unit.index, summary.kept_rows, signature)
            )
        summary.rows += result.rows
        summary.kept_rows += result.kept.num_rows
        summary.dropped_rows += result.dropped.num_rows
        summary.reasons.update(result.reasons)
        summary.stats.merge(result.stats)
        warnings.update(dict.fromkeys(result.warnings))
        if sinks is not None:
            sinks[0].write(result.kept)
            sinks[1].write(result.dropped)
    if sinks is not None:
        kept_schema, dropped_schema = base_schemas(shape)
        sinks[0].close(kept_schema)
        sinks[1].close(dropped_schema)
    if signatures is not None:
        signatures.close(SIGNATURE_SCHEMA)
    summary.warnings = list(warnings)
    return summary


def _signature_rows(
    chunk: RawChunk, result: ChunkResult, part: int, first_row: int, signature: Signature
) -> pa.RecordBatch:
    # Kept rows carry no provenance, but every row of a chunk is kept or dropped and both
    # keep input order: the kept rows' source rows are the chunk's rows minus the dropped.
    dropped = result.dropped.column(SOURCE_ROW).to_numpy(zero_copy_only=False)
    source_rows = np.setdiff1d(np.asarray(chunk.row_numbers(), dtype=np.int64), dropped)
    n = result.kept.num_rows
    assert len(source_rows) == n, "kept + dropped must cover the chunk"
    return pa.RecordBatch.from_arrays(
        [
            signature(result.kept),
            pa.array(np.full(n, part, dtype=np.int64)),
            pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
            pa.array([chunk.source] * n, pa.string()),
            pa.array(source_rows),
        ],
        schema=SIGNATURE_SCHEMA,
    )


def unified_schema(parts: list[Path]) -> pa.Schema:
    """One schema every part fits, from the parts' footers alone (in part order).

    Parts of JSON input can differ (a column one chunk lacks, or all null in it); readers
    of a folder of Parquet (pyarrow datasets, pandas, ``datasets``) want one schema.
    """
    schema: pa.Schema | None = None
    for part in parts:
        found = pq.read_schema(part).remove_metadata()
        schema = found if schema is None else widen(schema, found)
    assert schema is not None
    return schema


def drop_empty_parts(parts: list[Path]) -> list[Path]:
    """Delete parts with no rows (some readers, e.g. ``datasets``, fail on them); the
    first part stays when all are empty, so the folder still says what its schema is."""
    empty = [p for p in parts if pq.read_metadata(p).num_rows == 0]
    if len(empty) == len(parts):
        empty = empty[1:]
    for part in empty:
        part.unlink()
    return [p for p in parts if p not in empty]


def needs_rewrite(part: Path, schema: pa.Schema) -> bool:
    return not pq.read_schema(part).remove_metadata().equals(schema)


def conform_part(part: str, schema: pa.Schema) -> None:
    """Rewrite one part in ``schema``, batch by batch (values that do not cast become text)."""
    path = Path(part)
    tmp = path.with_name(f".{path.name}.conform")
    with pq.ParquetWriter(tmp, schema, compression=COMPRESSION) as writer:
        for batch in pq.ParquetFile(path).iter_batches():
            fitted = conform(batch, schema, force=True)
            assert fitted is not None
            writer.write_batch(fitted)
    os.replace(tmp, path)
