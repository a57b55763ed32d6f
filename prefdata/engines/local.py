"""The local executor: every chunk checked on this machine's threads, in one pass.

Reading runs ahead on a thread of its own, checks on ``workers`` threads, writing behind
on another; duplicates and contradictions are decided online as chunks arrive (a fast
path the Ray executor cannot take), and the few decisions that can only be made at the
end (``dataset.late``) move rows once the pass is over. Counting and publishing are the
driver's (``prefdata.pipeline``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa

from prefdata.chunks import Checked, ChunkResult, check_chunk, finish
from prefdata.config import FilterConfig, ReadOptions
from prefdata.dataset.along import DatasetPass, dataset_pass_needed, row_keys
from prefdata.dataset.late import LateRows
from prefdata.engines.local_outputs import DroppedRows, write_outputs
from prefdata.engines.tally import Progress, Ran, Tally
from prefdata.memory import glibc_pool
from prefdata.parallel import WriteBehind, ordered_map, read_ahead
from prefdata.readers import InputInfo, agreed_shape, iter_chunks
from prefdata.results import FILE, OutputFolder
from prefdata.schema import canonical_fields, provenance_fields
from prefdata.writer import ArrowSpool, ParquetSink, dropped_sink

KEPT, DROPPED = FILE.kept, FILE.dropped

# Below this much input, starting worker threads costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20

_NO_KEYS = np.zeros(0, np.int64)


def worker_count(config: FilterConfig, total_bytes: int) -> int:
    """Threads for the chunk work: config.workers, or one per core (at most 8) for big inputs.

    Threads, not processes: parsing, checking and encoding run in native code that
    releases the GIL, so two threads on 2 cores measured 42k pairs/s against 29k inline
    and 39k for two worker processes (200k HH pairs, .jsonl.gz), with one copy of the
    data in memory instead of three.
    """
    if config.workers > 0:
        return config.workers
    if total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


Key = tuple[InputInfo, str, int]  # the input, the chunk's source file, bytes read so far


def _checked(
    paths: Sequence[Path],
    read_options: ReadOptions,
    config: FilterConfig,
    workers: int,
    signatures: bool,
) -> Iterator[tuple[Key, Checked]]:
    """Every chunk of the inputs checked, in input order: read ahead on a thread of its
    own, checked on ``workers`` threads.
    """
    chunks = read_ahead(iter_chunks(paths, read_options, chunk_rows=config.batch_size))
    jobs = (
        ((info, chunk.source, chunk.bytes_done), (chunk, layout, config, signatures))
        for info, layout, chunk in chunks
    )
    return ordered_map(check_chunk, jobs, workers)


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


Sink = ParquetSink | ArrowSpool | DroppedRows


def _close(
    sinks: tuple[Sink, Sink],
    shape: str | None,
    late: LateRows | None,
    kept_at: np.ndarray,
    dropped_keys: list[np.ndarray],
    sources: list[str],
) -> None:
    """Finish kept.parquet and dropped.parquet (from the spools, when there are some)."""
    base = pa.schema(canonical_fields("conversational" if shape == "conversational" else "text"))
    empty = (base, pa.schema([*base, *provenance_fields()]))
    kept, dropped = sinks
    if isinstance(kept, ArrowSpool) and isinstance(dropped, DroppedRows):
        dropped_at = np.concatenate(dropped_keys) if dropped_keys else _NO_KEYS
        write_outputs(late, (kept, dropped), (kept_at, dropped_at), empty, sources)
    elif isinstance(kept, ParquetSink) and isinstance(dropped, ParquetSink):
        kept.close(empty[0])
        dropped.close(empty[1])


def _write(sinks: tuple[Sink, Sink], result: ChunkResult) -> None:
    kept, dropped = result.split()
    sinks[0].write(kept)
    sinks[1].write(dropped)


def run_local(
    paths: Sequence[Path],
    folder: OutputFolder | None,
    config: FilterConfig,
    read_options: ReadOptions,
    tally: Tally,
    progress: Progress | None = None,
) -> Ran:
    """Check every chunk of ``paths`` into ``tally``; with ``folder``, write kept.parquet
    and dropped.parquet into its staging folder."""
    with glibc_pool():
        return _run(paths, folder, config, read_options, tally, progress)


def _run(
    paths: Sequence[Path],
    folder: OutputFolder | None,
    config: FilterConfig,
    read_options: ReadOptions,
    tally: Tally,
    progress: Progress | None,
) -> Ran:
    total_bytes = sum(f.stat().st_size for p in paths for f in _files(p))
    workers = worker_count(config, total_bytes)
    # per input as given, not per path: a file given twice is two inputs (as on Ray)
    infos: dict[int, InputInfo] = {}
    finished_bytes = 0
    shape: str | None = None
    staging = folder.staging if folder is not None else None
    # with dataset-level checks, rows may still move at the end: spool kept rows and
    # write kept.parquet once then (write_outputs); dropped rows are written as they
    # come (read back once if a late decision touches them); without, write as the
    # rows come
    sinks: tuple[Sink, Sink] | None = None
    if staging is not None:
        if dataset_pass_needed(config):
            sinks = (ArrowSpool(staging / KEPT), DroppedRows(staging / DROPPED))
        else:
            sinks = (ParquetSink(staging / KEPT), dropped_sink(staging / DROPPED))
    # each chunk's source file, numbered in read order; per input, so that a file given
    # twice is read as two sources whose rows do not share numbers
    sources: dict[tuple[int, str], int] = {}
    kept_keys: list[np.ndarray] = []  # where each kept row came from (dataset pass only)
    dropped_keys: list[np.ndarray] = []
    late: LateRows | None = None
    spooling = False  # dropped rows go to a spool (DroppedRows.spool_from_now)
    with (
        tempfile.TemporaryDirectory(prefix="prefdata-work-", dir=staging) as work,
        WriteBehind() as writes,
    ):
        dataset = DatasetPass(config, Path(work)) if dataset_pass_needed(config) else None
        checked = _checked(paths, read_options, config, workers, dataset is not None)
        for order, ((info, source, bytes_done), chunk) in enumerate(checked):
            if id(info) not in infos:
                if infos:
                    finished_bytes += list(infos.values())[-1].bytes
                infos[id(info)] = info
            shape = agreed_shape(shape, info)
            number = sources.setdefault((id(info), source), len(sources))
            decided = {}
            if dataset is not None and chunk.signatures is not None:
                decided = dataset.add(number, chunk.signatures)
                if (
                    not spooling
                    and sinks is not None
                    and isinstance(sinks[1], DroppedRows)
                    and dataset.reverses(chunk.signatures)
                ):
                    # late decisions will rewrite dropped.parquet: spool from here on
                    writes.submit(sinks[1].spool_from_now)
                    spooling = True
            result = finish(chunk, decided)
            if dataset is not None:
                kept_keys.append(row_keys(number, result.kept_source_rows))
                dropped_keys.append(row_keys(number, result.dropped_source_rows))
            info.rows += result.rows
            tally.add(
                order,
                rows=result.rows,
                kept=len(result.kept_source_rows),
                dropped=len(result.dropped_source_rows),
                reasons=result.reasons,
                stats=result.stats,
                warnings=result.warnings,
            )
            if folder is not None and sinks is not None:
                # split there too: filtering the chunk's text is the costly part
                writes.submit(folder.guard(_write), sinks, result)
            if progress is not None:
                progress(finished_bytes + bytes_done, total_bytes, tally.report.input_rows)
        writes.drain()
        if dataset is not None:
            if sinks is not None and isinstance(sinks[1], DroppedRows):
                with folder.writing() if folder is not None else nullcontext():
                    sinks[1].set_down()  # deciding needs the memory at its peak
            decided_late = dataset.finish()
            tally.dataset = decided_late.summary
            tally.reasons.update({c: int(m.sum()) for c, m in decided_late.masks.items()})
            if decided_late.dropping().any():
                late = LateRows.of(decided_late)
    kept_at = np.concatenate(kept_keys) if kept_keys else _NO_KEYS
    if late is not None:
        # rows that late reasons drop: counted here, moved when the outputs close
        moved, moving = late.find(kept_at)
        tally.move_to_dropped(int(moved.sum()))
        tally.stats.bias.unkeep(late.chosen_chars[moving], late.rejected_chars[moving])
    tally.require_rows(paths)
    if folder is not None and sinks is not None:
        with folder.writing():
            _close(sinks, shape, late, kept_at, dropped_keys, [n for _, n in sources])
    return Ran(list(infos.values()), workers)
