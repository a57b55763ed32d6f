"""The filtering pipeline: read -> checks -> write, streaming, counting every row.

Counting, timing, progress and writing live here and only here; checks just answer
reason masks. Every input row ends up in exactly one of kept or dropped, and
``input_rows == kept_rows + dropped_rows`` is checked before anything is published.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from prefdata import __version__
from prefdata.chunks import ChunkResult, process_chunk
from prefdata.config import FilterConfig, ReadOptions
from prefdata.dataset.scan import DatasetPlan, dataset_pass_needed, scan
from prefdata.errors import ConfigError, InputError
from prefdata.parallel import ordered_map
from prefdata.readers import InputInfo, Layout, agreed_shape, iter_chunks
from prefdata.readers.sources import RawChunk
from prefdata.reporting import write_extras
from prefdata.schema import canonical_fields, provenance_fields
from prefdata.stats import Stats
from prefdata.writer import ParquetSink, make_staging_dir, publish

KEPT, DROPPED, REPORT = "kept.parquet", "dropped.parquet", "report.json"

# Below this much input, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20

# progress(bytes_done, bytes_total, rows_done)
Progress = Callable[[int, int, int], None]


@dataclass
class Report:
    """What a run did; ``report.json`` is this, as JSON."""

    input_rows: int = 0
    kept_rows: int = 0
    dropped_rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    read_options: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prefdata_version: str = __version__
    created_at: str = ""
    engine: str = "local"

    @property
    def drop_rate(self) -> float:
        return self.dropped_rows / self.input_rows if self.input_rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["drop_rate"] = self.drop_rate
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files in name order."""
    digest = hashlib.sha256()
    for file in _files(path):
        with open(file, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def worker_count(config: FilterConfig, total_bytes: int) -> int:
    """Processes for the chunk work: config.workers, or one per core but one for big inputs.

    The main process reads, writes Parquet and moves every batch to and from the pool,
    about a third of the work, so it gets a core of its own. On 2 cores that means no
    pool at all, which measured faster (1M pairs: Parquet 96k vs 58k pairs/s, JSONL 55k
    vs 44k) and lighter (peak RSS 282 vs 612 MiB) than two workers (bench_scale.py).
    """
    if config.workers > 0:
        return config.workers
    if total_bytes < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min((os.cpu_count() or 1) - 1, 8))


Task = tuple[InputInfo, Layout | None, RawChunk, dict[str, Any]]


def _execute(
    tasks: Iterator[Task], config: FilterConfig, workers: int
) -> Iterator[tuple[InputInfo, int, ChunkResult]]:
    """Chunk results in input order, computed inline or by a pool of processes."""
    jobs = (
        ((info, chunk.bytes_done), (chunk, layout, config, decided))
        for info, layout, chunk, decided in tasks
    )
    for (info, bytes_done), result in ordered_map(process_chunk, jobs, workers):
        yield info, bytes_done, result


def _with_decisions(
    chunks: Iterator[tuple[InputInfo, Layout | None, RawChunk]], plan: DatasetPlan | None
) -> Iterator[Task]:
    """Each chunk with the dataset-level decisions about its rows (inputs in read order)."""
    index, last = -1, None
    for info, layout, chunk in chunks:
        if info is not last:
            index, last = index + 1, info
        yield info, layout, chunk, plan.for_chunk(index, chunk) if plan is not None else {}


def run(
    inputs: Sequence[str | Path],
    out_dir: str | Path | None,
    *,
    config: FilterConfig | None = None,
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """Check every pair of ``inputs``; with ``out_dir``, write kept/dropped/report there.

    ``engine="ray"`` runs the same chunk work on Ray (``ray_address``: a cluster to join;
    none starts a local instance) and writes kept/ and dropped/ folders of Parquet parts.
    """
    config = config or FilterConfig()
    read_options = read_options or ReadOptions()
    if not inputs:
        raise InputError("no input given")
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
    for eval_set in map(Path, config.eval_sets):  # fail before a long first pass, not after
        if not eval_set.exists():
            raise InputError(f"no such eval set: {eval_set}")
    if engine == "ray":
        # duplicates and contradictions run through a shuffle on Ray; run_ray refuses the
        # dataset-level options it does not run rather than skip them silently
        from prefdata.engines.ray_engine import run_ray

        return run_ray(
            paths,
            out_dir,
            config=config,
            read_options=read_options,
            progress=progress,
            address=ray_address,
        )
    if engine != "local":
        raise ConfigError(f"engine must be one of ['local', 'ray'], got {engine!r}")
    start = time.perf_counter()
    report = Report(
        config=config.to_dict(),
        read_options=read_options.to_dict(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    reasons: Counter[str] = Counter()
    stats = Stats()
    warnings: dict[str, None] = {}
    total_bytes = sum(f.stat().st_size for p in paths for f in _files(p))
    infos: dict[str, InputInfo] = {}
    finished_bytes = 0
    shape: str | None = None
    out = Path(out_dir) if out_dir is not None else None
    staging = make_staging_dir(out) if out is not None else None
    kept_sink = ParquetSink(staging / KEPT) if staging else None
    dropped_sink = ParquetSink(staging / DROPPED) if staging else None
    workers = worker_count(config, total_bytes)
    try:
        plan = None
        if dataset_pass_needed(config):
            with tempfile.TemporaryDirectory(prefix="prefdata-scan-", dir=staging) as work:
                plan = scan(paths, read_options, config, workers=workers, work_dir=Path(work))
        tasks = _with_decisions(
            iter_chunks(paths, read_options, chunk_rows=config.batch_size), plan
        )
        for info, bytes_done, result in _execute(tasks, config, workers):
            if info.path not in infos:
                if infos:
                    finished_bytes += list(infos.values())[-1].bytes
                infos[info.path] = info
            shape = agreed_shape(shape, info)
            info.rows += result.rows
            reasons.update(result.reasons)
            stats.merge(result.stats)
            warnings.update(dict.fromkeys(result.warnings))
            report.input_rows += result.rows
            report.kept_rows += result.kept.num_rows
            report.dropped_rows += result.dropped.num_rows
            if kept_sink is not None and dropped_sink is not None:
                kept_sink.write(result.kept)
                dropped_sink.write(result.dropped)
            if progress is not None:
                progress(finished_bytes + bytes_done, total_bytes, report.input_rows)
        if report.input_rows == 0:
            raise InputError(f"no records in {', '.join(map(str, paths))}")
        if report.input_rows != report.kept_rows + report.dropped_rows:  # pragma: no cover
            raise AssertionError(
                f"row accounting broke: {report.input_rows} != "
                f"{report.kept_rows} + {report.dropped_rows}"
            )
        report.reasons = dict(reasons.most_common())
        report.stats = stats.to_dict()
        if plan is not None:
            report.stats["dataset"] = plan.summary
        report.warnings = list(warnings)
        for info in infos.values():
            report.inputs.append({**info.__dict__, "sha256": sha256_path(Path(info.path))})
        elapsed = time.perf_counter() - start
        report.timings = {
            "seconds": round(elapsed, 4),
            "pairs_per_second": round(report.input_rows / elapsed, 1) if elapsed else 0.0,
            "workers": workers,
        }
        if staging is not None and out is not None and kept_sink and dropped_sink:
            base = pa.schema(
                canonical_fields("conversational" if shape == "conversational" else "text")
            )
            kept_sink.close(base)
            dropped_sink.close(pa.schema([*base, *provenance_fields()]))
            (staging / REPORT).write_bytes(report.to_json())
            extras = write_extras(staging, orjson.loads(report.to_json()))
            publish(staging, out, [KEPT, DROPPED, *extras, REPORT], marker=REPORT)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def filter_pairs(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: FilterConfig | None = None,
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """Curate ``inputs`` into ``out_dir``: kept.parquet, dropped.parquet and report.json.

    With ``engine="ray"``: kept/ and dropped/ folders of ``part-NNNNNN.parquet`` instead.

    >>> report = filter_pairs(["pairs.jsonl"], "out")  # doctest: +SKIP
    >>> report.input_rows == report.kept_rows + report.dropped_rows  # doctest: +SKIP
    True
    """
    return run(
        inputs,
        out_dir,
        config=config,
        read_options=read_options,
        progress=progress,
        engine=engine,
        ray_address=ray_address,
    )


def validate_pairs(
    inputs: Sequence[str | Path],
    *,
    config: FilterConfig | None = None,
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """The same checks as ``filter_pairs``, report only: nothing is written."""
    return run(
        inputs,
        None,
        config=config,
        read_options=read_options,
        progress=progress,
        engine=engine,
        ray_address=ray_address,
    )
