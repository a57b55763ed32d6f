"""Load curated Parquet (the filter's ``kept.parquet`` / ``dropped.parquet``) into a store.

Importing is idempotent: a pair id already in the store is left exactly as it is, so
re-running the import (or restarting the app) never resets counts or duplicates rows.
A row of the dropped set keeps its reason codes and is shown in Browse for review, but
the queue only serves pairs that have a prompt and both responses and were kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata import schema
from prefdata.annotate.label_store import LabelStore, now_iso
from prefdata.errors import InputError

# Provenance columns of the dropped set; they are shown from their own fields, not
# carried as "extra" columns that would be exported as part of the pair.
_NOT_EXTRA = set(schema.CANONICAL) | set(schema.PROVENANCE)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: new pairs, pairs already present, and ids whose stored
    content differs from the file (kept as stored, so labels stay meaningful)."""

    inserted: int
    unchanged: int
    conflicting: list[str]

    @property
    def total(self) -> int:
        return self.inserted + self.unchanged + len(self.conflicting)


def import_parquet(store: LabelStore, path: str | Path, *, pool: str | None = None) -> ImportResult:
    """Import one curated Parquet file (or a Ray result's kept/ or dropped/ folder of
    parts); ``pool`` defaults to 'dropped' when the file has a ``reasons`` column (the
    filter's dropped set) and 'kept' otherwise."""
    path = Path(path)
    if not (path.is_file() or (path.is_dir() and any(path.glob("part-*.parquet")))):
        raise InputError(
            f"no such file: {path}; pass the filter's kept.parquet (or dropped.parquet)"
        )
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc
    return import_table(store, table, pool=pool, source=path.name)


def import_table(
    store: LabelStore, table: pa.Table, *, pool: str | None = None, source: str = "table"
) -> ImportResult:
    """Import an Arrow table in the canonical schema (see ``prefdata.schema``)."""
    missing = [c for c in schema.CANONICAL if c not in table.column_names]
    if missing:
        raise InputError(
            f"{source} lacks column(s) {missing}; found {table.column_names}: "
            "import the curated Parquet written by `prefdata filter`"
        )
    if pool is None:
        pool = "dropped" if schema.REASONS in table.column_names else "kept"
    if pool not in ("kept", "dropped"):
        raise InputError(f"pool must be 'kept' or 'dropped', got {pool!r}")
    shape = (
        "text"
        if pa.types.is_string(table.schema.field(schema.PROMPT).type)
        or pa.types.is_large_string(table.schema.field(schema.PROMPT).type)
        else "conversational"
    )
    parsed = (_row(record, shape=shape, pool=pool) for record in table.to_pylist())
    rows = [r for r in parsed if r is not None]
    inserted, unchanged, conflicting = 0, 0, []
    stamp = now_iso()
    with store.write() as conn:
        for row in rows:
            existing = conn.execute(
                "SELECT prompt, chosen, rejected FROM pairs WHERE pair_id = ?", (row["pair_id"],)
            ).fetchone()
            if existing is None:
                conn.execute(
                    "INSERT INTO pairs (pair_id, shape, prompt, chosen, rejected, extra, pool,"
                    " reasons, queueable, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row["pair_id"],
                        shape,
                        row["prompt"],
                        row["chosen"],
                        row["rejected"],
                        row["extra"],
                        pool,
                        row["reasons"],
                        row["queueable"],
                        stamp,
                    ),
                )
                inserted += 1
            elif tuple(existing) == (row["prompt"], row["chosen"], row["rejected"]):
                unchanged += 1
            else:
                conflicting.append(row["pair_id"])
    return ImportResult(inserted=inserted, unchanged=unchanged, conflicting=conflicting)


def _row(record: dict[str, Any], *, shape: str, pool: str) -> dict[str, Any] | None:
    prompt, chosen, rejected = (
        record.get(c) for c in (schema.PROMPT, schema.CHOSEN, schema.REJECTED)
    )
    pair_id = record.get(schema.ID)
    if pair_id is None:
        if prompt is None and chosen is None and rejected is None:
            return None  # an unparseable record: nothing to review but its raw text
        pair_id = schema.derive_id(prompt, chosen, rejected)
    complete = all(_has_text(v) for v in (prompt, chosen, rejected))
    extra = {k: v for k, v in record.items() if k not in _NOT_EXTRA}
    return {
        "pair_id": str(pair_id),
        "prompt": _dumps(prompt),
        "chosen": _dumps(chosen),
        "rejected": _dumps(rejected),
        "extra": json.dumps(extra, ensure_ascii=False, default=str),
        "reasons": json.dumps(list(record.get(schema.REASONS) or []), ensure_ascii=False),
        "queueable": int(pool == "kept" and complete),
    }


def _has_text(value: Any) -> bool:
    return bool(value) if isinstance(value, str | list) else False


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
