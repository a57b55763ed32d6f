"""The Ray engine: the local pipeline's checks as a Ray Data job, on one machine or a cluster.

Shape of a run::

    driver: plan work units (metadata + one newline pass)      [work_units.py]
    Ray Data: from_arrow_refs(units) -> map_batches(run_unit)  [parts.py]
        each task: read its row group / byte range, check_chunk() + finish() per chunk,
        write STAGING/{kept,dropped}/part-NNNNNN.parquet, return counters
        and STAGING/signatures/part-NNNNNN.parquet (hashes of every checked row);
        STAGING is the run's folder beside OUT (results.publish), on the shared filesystem
    Ray Data: signatures -> groupby(bucket).map_groups(decide)  [ray_dataset_checks.py]
              dropped rows -> groupby(part).map_groups(apply)   [decided_parts.py]
    this executor: make every part share one schema (Ray tasks)
    driver (pipeline.py): add up counters, check input_rows == kept + dropped, write
            report.json, report.html and README.md, swap the staging folder in

Why a dataset of unit descriptors rather than ``ray.data.read_parquet`` / ``read_json``: the report and the dropped set name each row's ``source_file`` and
``source_row``, and Ray's readers neither keep row numbers nor cut blocks where the
local engine cuts chunks. Units that name a row group or a byte range keep both, let
every node read its own share of the input (no data passes through the driver), and
give the same chunks, hence the same rows, reasons and warnings, as the local engine.
JSONL bytes are parsed in the worker, as in the local engine's process pool.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from prefdata.config import FilterConfig, ReadOptions
from prefdata.engines.parts import (
    DROPPED_DIR,
    KEPT_DIR,
    SIGNATURES_DIR,
    UnitSummary,
    conform_part,
    drop_empty_parts,
    needs_rewrite,
    run_unit,
    unified_schema,
)
from prefdata.engines.ray_dataset_checks import DatasetOutcome, dataset_codes, run_dataset_checks
from prefdata.engines.tally import Progress, Ran, Tally
from prefdata.engines.work_units import Plan, WorkUnit, plan_units
from prefdata.errors import ConfigError, InputError, PrefdataError, require
from prefdata.results import OutputFolder
from prefdata.results.atomic import output_error, remote_write_error

# Object store for a local instance: results travel as files, so little is needed.
LOCAL_OBJECT_STORE_BYTES = 512 << 20


def refuse_unsupported(config: FilterConfig) -> None:
    """Raise ConfigError for the dataset-level options the Ray engine does not run yet.

    Near-duplicate prompts, contamination and length balancing decide over the whole
    input in ways a prompt-bucketed shuffle does not cover (LSH buckets, an eval set, one
    seeded draw); running them on the driver would read the whole input there.
    """
    flags = [
        flag
        for flag, on in (
            ("--near-duplicates", config.near_duplicates and config.near_duplicates_wanted()),
            (
                "--drop-near-duplicates",
                config.drop_near_duplicates and config.near_duplicates_wanted(),
            ),
            ("--eval-set", bool(config.eval_sets)),
            ("--balance-length", config.balance_length),
        )
        if on
    ]
    if flags:
        raise ConfigError(
            f"--engine ray does not run {', '.join(flags)} yet: leave "
            f"{'it' if len(flags) == 1 else 'them'} out, or use --engine local"
        )


def init_ray(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` (a cluster) or start a local instance; False if already up.

    The driver's own ``prefdata`` package is shipped to the workers (``py_modules``), so
    nodes need prefdata's dependencies installed but never a second copy of the code
    that could drift from the driver's.
    """
    ray = require("ray", "ray")
    if ray.is_initialized():
        return False
    import prefdata

    runtime_env = {"py_modules": [str(Path(prefdata.__file__).parent)]}
    # Ray's INFO lines (start-up, packaging, each dataset's plan) would drown the CLI's
    # own output and break --quiet; warnings and errors still show.
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is not None:
        ray.init(address=address, runtime_env=runtime_env, **quiet)
    else:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            runtime_env=runtime_env,
            **quiet,
        )
    return True


def _stash(unit: WorkUnit) -> Any:
    """One unit as a one-row Arrow block in the object store, owned by this driver.

    A block per unit, handed to Ray Data by reference: inline units' chunks (read here)
    wait in the object store (spilling to disk) instead of this process's memory.
    Pickled into a binary column rather than referenced from inside a pickle, because an
    ObjectRef hidden in user-pickled bytes loses its owner and ray.get on it never returns.
    """
    ray = require("ray", "ray")
    return ray.put(pa.table({"unit": pa.array([pickle.dumps(unit)], pa.binary())}))


@dataclass
class _Refused:
    """A unit that raised an error prefdata raises on purpose (a damaged input: one
    line, exit 2 on the CLI), sent back as a result: raised in a Ray task, it would reach
    the driver as Ray's UDF failure with the message buried in a remote traceback."""

    kind: str
    message: str

    def error(self) -> PrefdataError:
        return {"InputError": InputError, "ConfigError": ConfigError}.get(self.kind, PrefdataError)(
            self.message
        )


def _process_units(
    batch: dict[str, np.ndarray],
    *,
    config: FilterConfig,
    shape: str | None,
    staging: str | None,
    signatures: str | None,
) -> dict[str, np.ndarray]:
    """map_batches body: unpickle each unit, run it, send back its pickled summary (or
    what it refused, ``_Refused``)."""
    summaries = []
    for blob in batch["unit"]:
        outcome: UnitSummary | _Refused
        try:
            outcome = run_unit(
                pickle.loads(blob), config, shape, staging=staging, signatures=signatures
            )
        except PrefdataError as exc:
            outcome = _Refused(type(exc).__name__, str(exc))
        summaries.append(pickle.dumps(outcome))
    return {"summary": np.array(summaries, dtype=object)}


def _summaries(
    plan: Plan,
    config: FilterConfig,
    staging: Path | None,
    workers: int,
    signatures: Path | None = None,
) -> Iterator[UnitSummary]:
    ray = require("ray", "ray")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own bar
    # Ray Data sets up its logger on import, at INFO: a plan and a summary per dataset,
    # and a warning that bars are off. Failures still raise.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ds = ray.data.from_arrow_refs(plan.handles)
    ds = ds.map_batches(
        _process_units,
        batch_size=1,  # one unit per call: a unit is already ~32 MiB of input
        num_cpus=1,
        concurrency=workers if workers > 0 else None,
        fn_kwargs={
            "config": config,
            "shape": plan.shape,
            "staging": str(staging) if staging else None,
            "signatures": str(signatures) if signatures else None,
        },
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for blob in batch["summary"]:
            outcome = pickle.loads(blob)
            if isinstance(outcome, _Refused):
                raise outcome.error()
            yield outcome


def _unify_parts(staging: Path) -> None:
    """Give every part of kept/ (and of dropped/) one schema, rewriting misfits on the cluster.

    Empty parts go first, so part numbers may have gaps; name order is still input order.
    """
    ray = require("ray", "ray")
    rewrite = ray.remote(num_cpus=1)(conform_part)
    pending = []
    for folder in (KEPT_DIR, DROPPED_DIR):
        parts = drop_empty_parts(sorted((staging / folder).glob("part-*.parquet")))
        schema = unified_schema(parts)
        pending += [rewrite.remote(str(p), schema) for p in parts if needs_rewrite(p, schema)]
    ray.get(pending)


def run_ray(
    paths: Sequence[Path],
    folder: OutputFolder | None,
    config: FilterConfig,
    read_options: ReadOptions,
    tally: Tally,
    progress: Progress | None = None,
    address: str | None = None,
) -> Ran:
    """Check every unit of ``paths`` on Ray into ``tally``; with ``folder``, write kept/
    and dropped/ parts into its staging folder (beside OUT, on the shared filesystem).

    Every path (inputs and OUT) must be readable, and OUT writable, at the same name on
    every node: a shared filesystem. ``duplicate_pair`` and ``contradictory_pair`` run
    through a shuffle (``ray_dataset_checks``); the driver has already refused the
    other dataset-level options (``refuse_unsupported``).
    """
    started = init_ray(address, num_cpus=config.workers or None)
    staging = folder.staging if folder is not None else None
    scratch: Path | None = None
    try:
        ray = require("ray", "ray")
        plan = plan_units(paths, read_options, chunk_rows=config.batch_size, stash=_stash)
        if staging is not None:
            (staging / KEPT_DIR).mkdir()
            (staging / DROPPED_DIR).mkdir()
        signatures: Path | None = None
        if dataset_codes(config):
            base = staging
            if base is None:  # validate: no output folder
                base = scratch = _scratch_dir()
            signatures = base / SIGNATURES_DIR
            signatures.mkdir()
        total_bytes = sum(u.bytes for u in plan.units)
        done_bytes = 0
        for summary in _summaries(plan, config, staging, config.workers, signatures):
            plan.infos[summary.input_index].rows += summary.rows
            tally.add(
                summary.index,
                rows=summary.rows,
                kept=summary.kept_rows,
                dropped=summary.dropped_rows,
                reasons=summary.reasons,
                stats=summary.stats,
                warnings=summary.warnings,
            )
            done_bytes += summary.bytes
            if progress is not None:
                progress(done_bytes, total_bytes, tally.report.input_rows)
        tally.require_rows(paths)
        if signatures is not None:
            # stats.pairs counts every checked row: the rows that have signatures
            outcome = run_dataset_checks(
                signatures, config, rows=tally.stats.pairs, staging=staging
            )
            tally.dataset = _apply_outcome(outcome, tally)
        if staging is not None:
            shutil.rmtree(staging / SIGNATURES_DIR, ignore_errors=True)
            _unify_parts(staging)
        workers = config.workers or int(ray.cluster_resources().get("CPU", 0))
        return Ran([info for info in plan.infos if info.rows], workers)
    except Exception as exc:
        if folder is None:
            raise
        # the driver's own writes (part folders, unified parts) fail here as OSError; a
        # worker that filled the disk fails its task: say either as a local run would
        written = _writing(exc, folder) or remote_write_error(exc)
        if written is None:
            raise
        raise output_error(written, folder.given) from exc
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if started:
            ray.shutdown()


def _writing(exc: BaseException, folder: OutputFolder) -> OSError | None:
    """``exc`` if it is the driver failing to write into the result being built: an
    error only writing causes, or one naming a path in the staging folder (an input
    the driver could not read stays as it is)."""
    if not isinstance(exc, OSError):
        return None
    if remote_write_error(exc) is exc:
        return exc
    staging = str(folder.staging)
    named = [str(n) for n in (exc.filename, exc.filename2) if n]
    return exc if any(n.startswith(staging) for n in named) or staging in str(exc) else None


def _scratch_dir() -> Path:
    """Where a run that writes no output (validate) keeps its signature parts.

    A local temporary folder, so only a one-node cluster can use it: on more nodes the
    workers could not see it. Refuse there rather than miss duplicates.
    """
    ray = require("ray", "ray")
    if sum(1 for node in ray.nodes() if node.get("Alive")) > 1:
        raise ConfigError(
            "duplicate_pair and contradictory_pair need a folder every node can see: "
            "run `prefdata filter --out SHARED_DIR --engine ray`, or add --disable "
            "duplicate_pair --disable contradictory_pair"
        )
    return Path(tempfile.mkdtemp(prefix="prefdata-ray-"))


def _apply_outcome(outcome: DatasetOutcome, tally: Tally) -> dict[str, Any]:
    """Move the dataset-level drops into the counters; returns ``stats["dataset"]``,
    the figures the local engine's ``decide`` reports."""
    tally.move_to_dropped(outcome.moved)
    tally.reasons.update(outcome.reasons)
    bias = tally.stats.bias
    bias.kept_pairs -= outcome.moved
    bias.kept_chosen_longer -= outcome.moved_chosen_longer
    bias.kept_rejected_longer -= outcome.moved_rejected_longer
    if not tally.stats.pairs:  # nothing readable: the local engine decides nothing either
        return {}
    return {
        "distinct_prompts": outcome.distinct_prompts,
        "rows_repeating_a_prompt": tally.stats.pairs - outcome.distinct_prompts,
        **{code: {"rows": rows} for code, rows in outcome.reasons.items()},
    }
