"""A review queue in the label store: pairs `prefdata audit` ranked as likely mislabelled.

The queue file is canonical Parquet plus ``margin`` and ``audit_rank``. Its pairs are
imported like curated pairs (kept pool, so they are labelled and exported like any
other: a "rejected" majority flips them) and listed in ``review_queue``; the annotate
queue serves them first, in rank order, and the page shows the margin beside the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.annotate.label_store import LabelStore, now_iso
from prefdata.annotate.pair_import import ImportResult, import_table
from prefdata.errors import InputError
from prefdata.schema import ID, derive_id

MARGIN, RANK = "margin", "audit_rank"  # as prefdata.train.audit writes them


@dataclass(frozen=True)
class ReviewEntry:
    pair_id: str
    rank: int
    margin: float | None
    source: str


def import_review_queue(store: LabelStore, path: str | Path) -> ImportResult:
    """Import an audit queue's pairs and queue them for review first (idempotent)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such review queue: {path}; write one with `prefdata audit`")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc
    if RANK not in table.column_names:
        raise InputError(
            f"{path} has no {RANK!r} column; found {table.column_names}: "
            "pass the audit.parquet that `prefdata audit` writes"
        )
    result = import_table(store, table, pool="kept", source=path.name)
    ids = table.column(ID).to_pylist() if ID in table.column_names else [None] * len(table)
    rows = table.select(["prompt", "chosen", "rejected"]).to_pylist()
    margins = (
        table.column(MARGIN).to_pylist() if MARGIN in table.column_names else [None] * len(rows)
    )
    ranks = table.column(RANK).to_pylist()
    stamp = now_iso()
    with store.write() as conn:
        for pair_id, row, margin, rank in zip(ids, rows, margins, ranks, strict=True):
            if pair_id is None:  # the same content id the import gave the pair
                pair_id = derive_id(row["prompt"], row["chosen"], row["rejected"])
            conn.execute(
                "INSERT INTO review_queue (pair_id, rank, margin, source, queued_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pair_id) DO UPDATE SET rank = excluded.rank,"
                " margin = excluded.margin, source = excluded.source",
                (str(pair_id), int(rank), margin, path.name, stamp),
            )
            # pairs imported earlier from the curated set carry the audit into the export too
            conn.execute(
                "UPDATE pairs SET extra = json_set(extra, '$.margin', ?, '$.audit_rank', ?)"
                " WHERE pair_id = ?",
                (margin, int(rank), str(pair_id)),
            )
    return result


def review_entry(store: LabelStore, pair_id: str) -> ReviewEntry | None:
    """The pair's place in the review queue, or None when it was not audited."""
    row = (
        store.connection()
        .execute(
            "SELECT pair_id, rank, margin, source FROM review_queue WHERE pair_id = ?", (pair_id,)
        )
        .fetchone()
    )
    if row is None:
        return None
    return ReviewEntry(str(row[0]), int(row[1]), None if row[2] is None else float(row[2]), row[3])
