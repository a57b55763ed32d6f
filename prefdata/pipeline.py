"""The driver: one run of the checks, whichever executor schedules the chunks.

The driver owns what must not differ between engines: the report and its counters
(``engines.tally``), the accounting check ``input_rows == kept_rows + dropped_rows``,
input digests (taken while reading) and publishing the output folder (``results``). An executor only
schedules the chunk work and the dataset-level decisions: ``engines.local`` on this
machine's threads, ``engines.ray_engine`` as a Ray Data job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefdata.config import FilterConfig, ReadOptions
from prefdata.engines import ENGINES
from prefdata.engines.local import run_local
from prefdata.engines.tally import Progress, Ran, Tally
from prefdata.errors import ConfigError, InputError
from prefdata.readers import InputInfo
from prefdata.readers.digest import sha256_files
from prefdata.readers.sources import missing_message
from prefdata.results import OutputFolder, Report, layout_of

if TYPE_CHECKING:
    from prefdata.preflight.attach import PreflightOptions


def _digests(infos: Sequence[InputInfo]) -> list[dict[str, Any]]:
    """``report.inputs``: each input with the sha256 of its bytes on disk.

    The local reader hashes inputs as it reads them (``readers.digest``). Ray's tasks
    read parts of files on other nodes, so for a Ray run the driver reads each input a
    second time to hash it (``sha256_read: "again"``).
    """
    out = []
    for info in infos:
        row: dict[str, Any] = dict(info.__dict__)
        if info.sha256 is None:
            row["sha256"] = sha256_files(Path(info.path))
            row["sha256_read"] = "again"
        out.append(row)
    return out


def run(
    inputs: Sequence[str | Path],
    out_dir: str | Path | None,
    *,
    config: FilterConfig | None = None,
    read_options: ReadOptions | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    preflight: PreflightOptions | None = None,
) -> Report:
    """Check every pair of ``inputs``; with ``out_dir``, publish the result there.

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
            raise InputError(missing_message(path))
    for eval_set in map(Path, config.eval_sets):  # fail before a long pass, not after
        if not eval_set.exists():
            raise InputError(f"no such eval set: {eval_set}")
    if preflight is not None:
        preflight.check()
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine == "ray":
        # Ray refuses the dataset-level options it does not run rather than skip them
        from prefdata.engines.ray_engine import refuse_unsupported

        refuse_unsupported(config)
    start = time.perf_counter()
    tally = Tally(
        Report(
            config=config.to_dict(),
            read_options=read_options.to_dict(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            engine=engine,
        )
    )
    # refuses a bad --out, takes its lock and makes the staging folder before the pass
    folder = OutputFolder(out_dir, paths) if out_dir is not None else None
    with folder if folder is not None else nullcontext():
        ran: Ran
        if engine == "ray":
            from prefdata.engines.ray_engine import run_ray

            ran = run_ray(paths, folder, config, read_options, tally, progress, ray_address)
        else:
            ran = run_local(paths, folder, config, read_options, tally, progress)
        report = tally.close()
        report.inputs = _digests(ran.inputs)
        elapsed = time.perf_counter() - start
        report.timings = {
            "seconds": round(elapsed, 4),
            "pairs_per_second": round(report.input_rows / elapsed, 1) if elapsed else 0.0,
            "workers": ran.workers,
        }
        if folder is not None:
            if preflight is not None:
                # into the staging folder, so the ledger is published with the rows it plans
                from prefdata.preflight.attach import into_result

                layout = layout_of(engine)
                with folder.writing():
                    report.preflight = into_result(
                        folder.staging, folder.staging / layout.kept, preflight
                    )
            folder.publish_result(report, layout_of(engine))
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
    preflight: PreflightOptions | None = None,
) -> Report:
    """Curate ``inputs`` into ``out_dir``: kept.parquet, dropped.parquet and report.json.

    With ``engine="ray"``: kept/ and dropped/ folders of ``part-NNNNNN.parquet`` instead.
    With ``preflight``: also the trainer's pre-flight of the kept pairs, preflight.parquet
    and preflight.json, its ledger in report.json.

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
        preflight=preflight,
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
