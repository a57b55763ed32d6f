"""The work on one chunk of input, wherever it runs: normalise, check, split.

``check_chunk`` (normalise, per-pair checks, signatures) and ``finish`` (add the
dataset-level reasons, split) are pure functions of their arguments, so the local engine
can run them inline or on worker threads (and a distributed engine on any node); results
come back as Arrow batches plus small counters that the pipeline adds up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata.checks import CHECKS, PairView
from prefdata.config import FilterConfig
from prefdata.dataset.minhash import lsh_for
from prefdata.dataset.signatures import Signatures, batch_signatures
from prefdata.readers import Layout, normalize_chunk
from prefdata.readers.normalize import Warnings
from prefdata.readers.sources import RawChunk
from prefdata.schema import DETAIL, RAW, REASONS, SOURCE_FILE, SOURCE_ROW
from prefdata.stats import Stats
from prefdata.writer import conform


@dataclass
class ChunkResult:
    """One chunk's fate: counted at once, its kept and dropped rows built on demand.

    Counting needs only the masks; building the rows (filtering the chunk's text) is
    the costly part, so ``split`` is left to whoever writes them: the local engine's
    write-behind thread, off the thread that hands chunks out in order.
    """

    rows: int
    kept_source_rows: np.ndarray  # source row of each kept row (kept has no provenance)
    dropped_source_rows: np.ndarray  # of each dropped row, in dropped's order (ascending)
    reasons: Counter[str]
    stats: Stats
    warnings: list[str] = field(default_factory=list)
    _split: Callable[[], tuple[pa.RecordBatch, pa.RecordBatch]] | None = None
    _rows: tuple[pa.RecordBatch, pa.RecordBatch] | None = None

    def split(self) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """(kept rows, dropped rows), built once."""
        if self._rows is None:
            assert self._split is not None
            self._rows, self._split = self._split(), None
        return self._rows

    @property
    def kept(self) -> pa.RecordBatch:
        return self.split()[0]

    @property
    def dropped(self) -> pa.RecordBatch:
        return self.split()[1]


@dataclass
class Checked:
    """One chunk normalised and run through the per-pair checks, not yet split.

    ``finish`` adds the dataset-level reasons, which may depend on earlier chunks, and
    splits; running the two apart lets the checks run anywhere and the deciding happen
    in input order.
    """

    rows: int
    good: pa.RecordBatch
    bad: pa.RecordBatch | None
    codes: list[str]
    matrix: np.ndarray
    view: PairView
    warnings: list[str]
    signatures: Signatures | None = None


def reason_lists(codes: list[str], matrix: np.ndarray) -> pa.ListArray:
    """Per row, the codes whose column is set in a (rows x codes) boolean matrix."""
    _, cols = np.nonzero(matrix)  # row-major, so each row's codes come out in order
    offsets = np.zeros(matrix.shape[0] + 1, dtype=np.int32)
    np.cumsum(matrix.sum(axis=1), out=offsets[1:])
    values = pa.array(codes, pa.string()).take(pa.array(cols, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def concat_lists(a: pa.ListArray, b: pa.ListArray) -> pa.ListArray:
    """Row by row, ``a``'s list followed by ``b``'s (both the same length, no nulls).

    >>> concat_lists(pa.array([["x"], []]), pa.array([["y"], ["z"]])).to_pylist()
    [['x', 'y'], ['z']]
    """
    parents = np.concatenate(
        [
            pc.list_parent_indices(a).to_numpy(zero_copy_only=False),
            pc.list_parent_indices(b).to_numpy(zero_copy_only=False),
        ]
    )
    values = pa.concat_arrays([pc.list_flatten(a), pc.list_flatten(b)])
    # stable: within a row, a's values (first in ``values``) stay before b's
    order = np.argsort(parents, kind="stable")
    offsets = np.zeros(len(a) + 1, np.int32)
    np.cumsum(np.bincount(parents, minlength=len(a)), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values.take(pa.array(order)))


def run_checks(
    batch: pa.RecordBatch, config: FilterConfig
) -> tuple[list[str], np.ndarray, PairView]:
    """Every enabled check on one canonical batch: codes and a rows x codes matrix."""
    view = PairView(batch)
    masks: dict[str, np.ndarray] = {}
    for name, check in CHECKS.items():
        if name not in config.disable:
            masks.update(check(view, config))
    codes = list(masks)
    matrix = np.column_stack([masks[c] for c in codes]) if codes else np.zeros((len(view), 0), bool)
    return codes, matrix.reshape(len(view), len(codes)), view


Rows = TypeVar("Rows", pa.RecordBatch, pa.Table)


def as_dropped(rows: Rows, reasons: pa.Array, source_file: pa.Array, source_row: pa.Array) -> Rows:
    """Rows that read fine, in dropped's layout: their columns, then ``reasons``,
    ``source_file``, ``source_row``, and ``raw`` and ``detail`` null (only rows that could
    not be read have those). The one builder of such rows: a chunk's checks and both
    engines' late decisions use it."""
    build = pa.Table.from_arrays if isinstance(rows, pa.Table) else pa.RecordBatch.from_arrays
    nulls = pa.nulls(rows.num_rows, pa.string())
    return build(
        [*rows.columns, reasons, source_file, source_row, nulls, nulls],
        names=[*rows.schema.names, REASONS, SOURCE_FILE, SOURCE_ROW, RAW, DETAIL],
    )


def split_rows(
    good: pa.RecordBatch, bad: pa.RecordBatch | None, codes: list[str], matrix: np.ndarray
) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """Kept rows (no reason), and dropped rows: check reasons plus structural rows."""
    drop = matrix.any(axis=1)
    content = good.drop_columns([SOURCE_FILE, SOURCE_ROW])
    kept = content.filter(pa.array(~drop))
    picked = good.filter(pa.array(drop))
    dropped = as_dropped(
        picked.drop_columns([SOURCE_FILE, SOURCE_ROW]),
        reason_lists(codes, matrix[drop]),
        picked.column(SOURCE_FILE),
        picked.column(SOURCE_ROW),
    )
    if bad is not None and bad.num_rows:
        fitted = conform(bad, dropped.schema)
        assert fitted is not None  # bad rows carry only id and provenance columns
        merged = pa.Table.from_batches([dropped, fitted])
        dropped = (
            merged.take(pc.sort_indices(merged.column(SOURCE_ROW))).combine_chunks().to_batches()[0]
        )
    return kept, dropped


def apply_decided(
    good: pa.RecordBatch, codes: list[str], matrix: np.ndarray, decided: Mapping[str, np.ndarray]
) -> tuple[list[str], np.ndarray]:
    """Add the dataset-level reasons (source rows decided for this chunk) as columns."""
    if not decided:
        return codes, matrix
    rows = good.column(SOURCE_ROW).to_numpy(zero_copy_only=False)
    extra = [np.isin(rows, decided[code]) for code in decided]
    return [*codes, *decided], np.column_stack([matrix, *extra]).reshape(
        len(rows), len(codes) + len(extra)
    )


def check_chunk(
    chunk: RawChunk, layout: Layout | None, config: FilterConfig, signatures: bool = False
) -> Checked:
    """Normalise one chunk and run the per-pair checks; with ``signatures``, also the
    dataset-level signatures of its checked rows (for deciding duplicates etc. later).
    """
    warnings = Warnings()
    normalized = normalize_chunk(chunk, layout, warnings)
    good, bad = normalized.good, normalized.bad
    codes, matrix, view = run_checks(good, config)
    rows = good.num_rows + (bad.num_rows if bad is not None else 0)
    sig = batch_signatures(good, lsh_for(config), view) if signatures else None
    return Checked(rows, good, bad, codes, matrix, view, list(warnings), sig)


def finish(checked: Checked, decided: Mapping[str, np.ndarray] | None = None) -> ChunkResult:
    """Add the dataset-level reasons (``decided``: code -> source rows it drops), count;
    the split into kept and dropped rows is ``ChunkResult.split``."""
    good, bad = checked.good, checked.bad
    codes, matrix = apply_decided(good, checked.codes, checked.matrix, decided or {})
    counts: Counter[str] = Counter({code: int(matrix[:, j].sum()) for j, code in enumerate(codes)})
    if bad is not None:
        for code_list in bad.column(REASONS).to_pylist():
            counts.update(code_list)
    stats = Stats()
    view = checked.view
    keep = np.asarray(~matrix.any(axis=1))
    figures = view.stats
    stats.add(
        view.chosen_chars,
        view.rejected_chars,
        figures.get("similarity"),
        kept=keep,
        at_most=figures.get("similarity_at_most"),
        why=figures.get("similarity_why"),
    )
    source_rows = good.column(SOURCE_ROW).to_numpy(zero_copy_only=False)
    dropped_rows = source_rows[~keep]
    if bad is not None and bad.num_rows:
        # split_rows orders dropped rows by source row, bad rows merged in
        bad_rows = bad.column(SOURCE_ROW).to_numpy(zero_copy_only=False)
        dropped_rows = np.sort(np.concatenate([dropped_rows, bad_rows]), kind="stable")
    return ChunkResult(
        checked.rows,
        source_rows[keep],
        dropped_rows,
        counts,
        stats,
        checked.warnings,
        _split=partial(split_rows, good, bad, codes, matrix),
    )
