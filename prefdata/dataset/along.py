"""The first pass: signatures of every row, then the dataset-level decisions.

Signatures stay in memory (about 100 bytes a row); MinHash signatures, 4 bytes per
permutation, are appended to a file in ``work_dir`` and read back as a memmap only for
the candidate pairs LSH proposes. The result, ``DatasetPlan``, holds per input the
sorted source rows each reason drops, and slices them per chunk for the main pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefdata import reasons
from prefdata.config import FilterConfig, ReadOptions
from prefdata.dataset.decisions import Columns, decide
from prefdata.dataset.eval_sets import load_eval_prompts
from prefdata.dataset.signatures import Signatures, chunk_signatures
from prefdata.parallel import ordered_map
from prefdata.readers import InputInfo, Layout, iter_chunks
from prefdata.readers.sources import RawChunk


class DiskRows:
    """Rows of a (rows x width) uint32 file, read with ``pread`` on demand.

    Not a memmap: mapped pages count as the process's resident memory, and candidate
    rows are scattered, so a memmap ended up resident in full (measured: the whole
    488 MiB file for 1M prompts). ``pread`` goes through the page cache, which the
    kernel may drop; one call per row is fine for the few rows LSH proposes (~40k per
    million prompts: tens of milliseconds).
    """

    def __init__(self, path: Path, rows: int, width: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.shape = (rows, width)
        self._row_bytes = 4 * width

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        index = np.atleast_1d(np.asarray(index))
        out = np.empty((len(index), self.shape[1]), np.uint32)
        for k, row in enumerate(index.tolist()):
            out[k] = np.frombuffer(
                os.pread(self._fd, self._row_bytes, row * self._row_bytes), np.uint32
            )
        return out

    def close(self) -> None:
        os.close(self._fd)


def dataset_pass_needed(config: FilterConfig) -> bool:
    """Whether any dataset-level reason or figure is wanted (then inputs are read twice)."""
    on = [
        c for c in (reasons.DUPLICATE_PAIR, reasons.CONTRADICTORY_PAIR) if c not in config.disable
    ]
    return bool(on or config.near_duplicates_wanted() or config.balance_length)


def chunk_row_bounds(chunk: RawChunk) -> tuple[int, int]:
    """[first, past-last) source rows a chunk can hold, without splitting its lines."""
    if chunk.text is not None:
        return chunk.start_row, chunk.start_row + chunk.text.count(b"\n") + 1
    return chunk.start_row, chunk.start_row + len(chunk)


@dataclass
class DatasetPlan:
    """Per input (in read order), per reason, the sorted source rows to drop."""

    rows: list[dict[str, np.ndarray]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def for_chunk(self, input_index: int, chunk: RawChunk) -> dict[str, np.ndarray]:
        """The decisions that concern one chunk: small, so they travel to workers cheaply."""
        lo, hi = chunk_row_bounds(chunk)
        out = {}
        for code, rows in self.rows[input_index].items():
            out[code] = rows[np.searchsorted(rows, lo) : np.searchsorted(rows, hi)]
        return out


Task = tuple[InputInfo, Layout | None, RawChunk]


def _signatures(
    tasks: Iterator[Task], config: FilterConfig, workers: int
) -> Iterator[tuple[InputInfo, Signatures]]:
    """chunk_signatures over the tasks, in order, inline or in a bounded process pool."""
    jobs = ((info, (chunk, layout, config)) for info, layout, chunk in tasks)
    return ordered_map(chunk_signatures, jobs, workers)


def scan(
    paths: Sequence[Path],
    read_options: ReadOptions,
    config: FilterConfig,
    *,
    workers: int,
    work_dir: Path,
) -> DatasetPlan:
    """Read every input once into signatures and decide the dataset-level drops."""
    lsh = config.lsh()
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "input",
            "source_row",
            "prompt",
            "prompt_last",
            "chosen",
            "rejected",
            "chosen_chars",
            "rejected_chars",
            "blank",
            "bands",
        )
    }
    minhash_file = work_dir / "prompt-minhash.u32"
    inputs = 0
    last: InputInfo | None = None
    with open(minhash_file, "wb") as sink:
        tasks = iter_chunks(paths, read_options, chunk_rows=config.batch_size)
        for info, sig in _signatures(tasks, config, workers):
            if info is not last:
                inputs, last = inputs + (last is not None), info
            parts["input"].append(np.full(len(sig), inputs, np.int32))
            for name in list(parts)[1:-2]:
                parts[name].append(getattr(sig, name))
            if sig.bands is not None and sig.minhash is not None and sig.blank is not None:
                parts["bands"].append(sig.bands)
                parts["blank"].append(sig.blank)
                sink.write(np.ascontiguousarray(sig.minhash).tobytes())
    # one column at a time, freeing its chunk list as it goes: never two copies of all
    merged = {k: np.concatenate(parts.pop(k)) for k in list(parts) if k != "bands" and parts[k]}
    n = len(merged.get("source_row", ()))
    if n == 0:  # nothing readable: nothing to decide (the main pass reports the inputs)
        os.unlink(minhash_file)
        return DatasetPlan(rows=[{} for _ in range(inputs + (last is not None))])
    cols = Columns(
        **{
            k: merged[k]
            for k in (
                "prompt",
                "prompt_last",
                "chosen",
                "rejected",
                "chosen_chars",
                "rejected_chars",
            )
        }
    )
    if lsh is not None:
        cols.blank = merged.get("blank")
        cols.bands = (
            np.concatenate(parts["bands"])
            if parts["bands"]
            else np.zeros((0, lsh.bands), np.uint64)
        )
        cols.minhash = DiskRows(minhash_file, n, lsh.num_perm)
    del parts
    try:
        evals = load_eval_prompts(config.eval_sets, lsh) if config.eval_sets else None
        decided = decide(cols, config, evals)
    finally:
        if isinstance(cols.minhash, DiskRows):
            cols.minhash.close()
        os.unlink(minhash_file)
    plan = DatasetPlan(summary=decided.summary)
    for index in range(inputs + (last is not None)):
        in_input = merged["input"] == index
        rows = merged["source_row"][in_input]
        plan.rows.append(
            {code: np.sort(rows[mask[in_input]]) for code, mask in decided.masks.items()}
        )
    return plan
