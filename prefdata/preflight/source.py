"""The table a trainer would be handed for DATA, read the way that trainer would get it.

* a prefdata output folder or canonical Parquet file: its pairs, as ``prefdata train``
  gives them to TRL (explicit prompts);
* a Parquet or JSON/JSONL(.gz) file whose ``chosen``/``rejected`` columns are already
  TRL-shaped (strings, or lists of ``{role, content}``): the file as ``load_dataset``
  reads it, so a file without ``prompt`` goes through TRL's own prompt extraction;
* a JSON array in LLaMA-Factory's pairwise Alpaca layout (``instruction``, ``input``,
  ``chosen``, ``rejected`` strings): the prompt as its converter joins it;
* any other layout prefdata reads (ShareGPT, Alpaca, HH, ...): prefdata's canonical
  pairs, the rows it cannot read counted by reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from prefdata.errors import InputError

CANONICAL = ("prompt", "chosen", "rejected")


def _trl_shaped(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = t.value_type
        return pa.types.is_struct(item) and {"role", "content"} <= {f.name for f in item}
    return False


def _raw(path: Path) -> pa.Table | None:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pq.read_table(path)
        if name.endswith((".jsonl", ".jsonl.gz")):
            return pj.read_json(path)
    except (pa.ArrowInvalid, OSError):
        return None
    return None


def _alpaca(path: Path) -> pa.Table | None:
    """LLaMA-Factory's pairwise Alpaca layout: the prompt is instruction and input joined
    by a newline (empty parts left out), as its AlpacaDatasetConverter builds it."""
    import json

    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(records, list) and records and isinstance(records[0], dict)):
        return None
    if not {"instruction", "chosen", "rejected"} <= set(records[0]):
        return None
    if not all(isinstance(r.get(k), str) for r in records for k in ("chosen", "rejected")):
        return None
    prompts = [
        "\n".join(p for p in (r.get("instruction"), r.get("input")) if isinstance(p, str) and p)
        for r in records
    ]
    return pa.table(
        {
            "prompt": prompts,
            "chosen": [r["chosen"] for r in records],
            "rejected": [r["rejected"] for r in records],
        }
    )


def _id_column(table: pa.Table) -> pa.Table:
    if "id" not in table.column_names:
        return table.append_column("id", pa.array([str(i) for i in range(table.num_rows)]))
    return table.set_column(
        table.column_names.index("id"), "id", table.column("id").cast(pa.string())
    )


def load(path: str | Path) -> tuple[pa.Table, dict[str, int]]:
    """(the pairs as the trainer gets them, rows that could not be read by reason)."""
    path = Path(path)
    if path.is_dir():
        from prefdata.train.data import load_pairs

        return load_pairs(path).table, {}
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    raw = _raw(path)
    if raw is None and path.name.lower().endswith(".json"):
        raw = _alpaca(path)
    if raw is not None and {"chosen", "rejected"} <= set(raw.column_names):
        used = [c for c in CANONICAL if c in raw.column_names]
        if all(_trl_shaped(raw.schema.field(c).type) for c in used):
            keep = used + (["id"] if "id" in raw.column_names else [])
            return _id_column(raw.select(keep)), {}
    return _read_with_prefdata(path)


def _read_with_prefdata(path: Path) -> tuple[pa.Table, dict[str, int]]:
    from prefdata.readers import read_pairs

    good: list[pa.RecordBatch] = []
    bad: Counter[str] = Counter()
    for item in read_pairs([path]):
        if item.normalized.good.num_rows:
            good.append(item.normalized.good.select(["id", *CANONICAL]))
        if item.normalized.bad is not None:
            for codes in item.normalized.bad.column("reasons").to_pylist():
                bad[codes[0] if codes else "unreadable"] += 1
    if not good:
        raise InputError(f"no readable pairs in {path}: try `prefdata inspect {path}`")
    return _id_column(pa.Table.from_batches(good)), dict(bad)
