"""Load curated preference pairs for training: canonical Parquet, checked before any model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import ConfigError, InputError
from prefdata.results import FILE, PART_GLOB, REPORT, is_result, open_result
from prefdata.schema import CANONICAL, CHOSEN, ID, PROMPT, REJECTED, Shape

KEPT_FILE = FILE.kept  # what `prefdata filter --out DIR` writes (the Ray engine: kept/)
REPORT_FILE = REPORT


@dataclass
class Pairs:
    """A canonical pair table with where it came from."""

    table: pa.Table
    shape: Shape
    path: Path | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    def take(self, indices: Any) -> Pairs:
        return Pairs(self.table.take(pa.array(indices, pa.int64())), self.shape, self.path)

    def to_trl_rows(self) -> dict[str, list[Any]]:
        """Columns TRL reads; extra columns are left out because TRL gives some names
        (``tools``, ``images``, ``label``) a meaning of their own."""
        return {name: self.table.column(name).to_pylist() for name in (PROMPT, CHOSEN, REJECTED)}


def resolve_data_path(path: str | Path) -> Path:
    """The Parquet a recipe's ``data`` names: a file, a folder of parts, or a result
    folder's kept rows (kept.parquet, or the Ray engine's kept/ folder)."""
    path = Path(path)
    if path.is_dir():
        if is_result(path):  # training reads only the kept rows: only those must match
            return open_result(path, check=("kept",)).kept
        if (path / KEPT_FILE).is_file():  # a kept.parquet without its report
            return path / KEPT_FILE
        if any(path.glob(PART_GLOB)):
            return path
        found = sorted(p.name for p in path.glob("*.parquet"))
        raise InputError(
            f"no {KEPT_FILE} in folder {path}; found {found}: name the Parquet file itself"
        )
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    return path


def _shape_of(table: pa.Table, path: Path | str) -> Shape:
    types = {name: table.schema.field(name).type for name in (PROMPT, CHOSEN, REJECTED)}
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in types.values()):
        return "text"

    def is_messages(t: pa.DataType) -> bool:
        if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
            return False
        item = t.value_type
        return pa.types.is_struct(item) and {"role", "content"} <= {f.name for f in item}

    if all(is_messages(t) for t in types.values()):
        return "conversational"
    shown = {name: str(t) for name, t in types.items()}
    raise InputError(
        f"{path} is not canonical: prompt/chosen/rejected must be all strings or all lists of "
        f"{{role, content}} messages, got {shown}; run `prefdata filter` on it first"
    )


def load_pairs(path: str | Path) -> Pairs:
    """Read curated pairs, checking the canonical columns and that there is at least one."""
    file = resolve_data_path(path)
    try:
        table = pq.read_table(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {file} as Parquet: {exc}") from exc
    missing = [name for name in CANONICAL if name not in table.column_names]
    if missing:
        raise InputError(
            f"{file} is not canonical: no column(s) {missing}; found {table.column_names}. "
            "Run `prefdata filter` on it first"
        )
    if table.num_rows == 0:
        raise InputError(f"no pairs in {file}: the dataset is empty")
    shape = _shape_of(table, file)
    if table.schema.field(ID).type != pa.string():
        table = table.set_column(
            table.column_names.index(ID), ID, table.column(ID).cast(pa.string())
        )
    return Pairs(table, shape, file)


def split_eval(pairs: Pairs, fraction: float, *, seed: int) -> tuple[Pairs, Pairs]:
    """Hold out a random ``fraction`` of pairs (at least one) as the eval set."""
    if not 0 < fraction < 1:
        raise ConfigError(f"eval_split must be between 0 and 1 (exclusive), got {fraction!r}")
    n_eval = max(1, round(len(pairs) * fraction))
    if n_eval >= len(pairs):
        raise ConfigError(f"eval_split {fraction} of {len(pairs)} pairs leaves nothing to train on")
    order = np.random.default_rng(seed).permutation(len(pairs))
    return pairs.take(np.sort(order[n_eval:])), pairs.take(np.sort(order[:n_eval]))


def data_files(path: Path) -> list[Path]:
    """The Parquet files behind a data path: the file itself, or a folder's parts in name
    order (a Ray result's ``kept/``)."""
    return sorted(path.glob(PART_GLOB)) if path.is_dir() else [path]


def file_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's parts in name order.

    One training run asks for its data's hash up to three times (the resume record, the
    manifest's data and, with eval_split, its eval data): the files' identity and stat
    stand for their content, so a multi-GB set is read once.
    """
    stats = [(file.resolve(), file.stat()) for file in data_files(path)]
    return _sha256(tuple((str(f), s.st_size, s.st_mtime_ns) for f, s in stats))


@lru_cache(maxsize=32)
def _sha256(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in files:
        with open(name, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def curation_report(data_file: Path) -> dict[str, Any] | None:
    """The ``report.json`` that ``prefdata filter`` wrote beside the data, if any."""
    report = data_file.parent / REPORT_FILE
    if not report.is_file():
        return None
    try:
        loaded = json.loads(report.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {"unreadable": str(report)}
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def unpaired_rows(rows: dict[str, list[Any]], *, seed: int) -> dict[str, list[Any]]:
    """KTO's unpaired examples (chosen = desirable, rejected = undesirable), shuffled.

    TRL unpairs by putting a block's chosen rows before its rejected ones, and KTO samples
    in order (its KL term pairs neighbours), so without a shuffle the first half-epoch
    never sees an undesirable example.
    """
    n = len(rows[PROMPT])
    order = np.random.default_rng(seed).permutation(2 * n)
    prompts = rows[PROMPT] + rows[PROMPT]
    completions = rows[CHOSEN] + rows[REJECTED]
    labels = [True] * n + [False] * n
    return {
        PROMPT: [prompts[i] for i in order],
        "completion": [completions[i] for i in order],
        "label": [labels[i] for i in order],
    }
