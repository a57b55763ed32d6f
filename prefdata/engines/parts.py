"""One work unit in, one kept part and one dropped part out, plus its counters.

``run_unit`` is what a distributed worker runs: ``check_chunk`` and ``finish`` on each of
the unit's chunks (the same functions the local engine runs), the
rows written straight to ``kept/part-NNNNNN.parquet`` and ``dropped/part-NNNNNN.parquet``
under a staging folder, and only a small ``UnitSummary`` sent back. Part numbers follow
input order, so reading the parts in name order gives the rows in the local engine's
order. For the dataset-level checks it also writes the signatures of every checked row
(``signatures/part-NNNNNN.parquet``); ``ray_dataset_checks`` decides from those.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.chunks import Checked, check_chunk, finish
from prefdata.config import FilterConfig
from prefdata.engines.work_units import WorkUnit
from prefdata.schema import SOURCE_FILE, SOURCE_ROW, canonical_fields, provenance_fields
from prefdata.stats import Stats
from prefdata.writer import COMPRESSION, ParquetSink, conform, dropped_sink, widen

KEPT_DIR, DROPPED_DIR, SIGNATURES_DIR = "kept", "dropped", "signatures"

# One row per checked row (every row that parsed, kept or dropped by a per-pair check):
# where it is, whether the per-pair checks kept it, and its ``batch_signatures`` hashes
# and lengths. ``part`` and ``source_row`` give read order; ``source_file`` is read back
# only by the step that moves rows (it never travels through the shuffle).
SIGNATURE_SCHEMA = pa.schema(
    [
        ("part", pa.int64()),
        (SOURCE_ROW, pa.int64()),
        ("kept", pa.bool_()),
        ("prompt", pa.uint64()),
        ("prompt_last", pa.uint64()),
        ("chosen", pa.uint64()),
        ("rejected", pa.uint64()),
        ("chosen_chars", pa.int64()),
        ("rejected_chars", pa.int64()),
        (SOURCE_FILE, pa.string()),
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
    shape: str | None,
    *,
    staging: str | None = None,
    signatures: str | None = None,
) -> UnitSummary:
    """Check every chunk of ``unit``; with ``staging``, write its kept and dropped parts
    there, and with ``signatures``, a folder, its signatures part (``SIGNATURE_SCHEMA``).
    """
    summary = UnitSummary(unit.index, unit.input_index, bytes=unit.bytes)
    sinks: tuple[ParquetSink, ParquetSink] | None = None
    if staging is not None:
        sinks = (
            ParquetSink(Path(staging, KEPT_DIR, part_name(unit.index))),
            dropped_sink(Path(staging, DROPPED_DIR, part_name(unit.index))),
        )
    signature_sink = (
        ParquetSink(Path(signatures, part_name(unit.index))) if signatures is not None else None
    )
    warnings: dict[str, None] = {}
    for chunk in unit.raw_chunks(config.batch_size):
        checked = check_chunk(chunk, unit.layout, config, signatures=signature_sink is not None)
        if signature_sink is not None:
            signature_sink.write(signature_rows(checked, unit.index))
        # no dataset-level reasons yet: they are decided once every unit has run
        result = finish(checked)
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
    if signature_sink is not None:
        signature_sink.close(SIGNATURE_SCHEMA)
    summary.warnings = list(warnings)
    return summary


def signature_rows(checked: Checked, part: int) -> pa.RecordBatch:
    """One chunk's checked rows as ``SIGNATURE_SCHEMA`` rows of part ``part``."""
    sig = checked.signatures
    assert sig is not None, "check_chunk was asked for no signatures"
    n = len(sig)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.full(n, part, dtype=np.int64)),
            pa.array(sig.source_row),
            pa.array(~checked.matrix.any(axis=1)),
            pa.array(sig.prompt),
            pa.array(sig.prompt_last),
            pa.array(sig.chosen),
            pa.array(sig.rejected),
            pa.array(sig.chosen_chars),
            pa.array(sig.rejected_chars),
            checked.good.column(SOURCE_FILE),
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
