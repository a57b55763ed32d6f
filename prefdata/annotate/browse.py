"""The Browse table: every pair with its filter reasons and label status, filtered.

Filtering happens in SQL so the page stays quick on a store of 100k pairs; the search
is a case-insensitive substring match over prompt, both responses and the pair id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from prefdata.annotate.label_store import LabelStore

STATUSES = ("unlabelled", "labelled", "disagreement", "adjudicated", "skipped only")
PREVIEW_CHARS = 120

# A pair's status from its votes: none, all the same, or different ones.
_STATUS_SQL = """
CASE
  WHEN a.pair_id IS NOT NULL THEN 'adjudicated'
  WHEN coalesce(v.n_distinct, 0) > 1 THEN 'disagreement'
  WHEN coalesce(v.n_votes, 0) > 0 THEN 'labelled'
  WHEN coalesce(v.n_skips, 0) > 0 THEN 'skipped only'
  ELSE 'unlabelled'
END
"""


@dataclass(frozen=True)
class BrowseFilter:
    """What the Browse page filters on; None / empty means "any"."""

    reason: str | None = None
    status: str | None = None
    annotator: str | None = None
    flagged_only: bool = False
    search: str = ""
    pool: str | None = None


def reasons_in_store(store: LabelStore) -> list[str]:
    """Every filter reason code present in the store, sorted."""
    rows = store.connection().execute(
        "SELECT DISTINCT j.value FROM pairs, json_each(pairs.reasons) j ORDER BY 1"
    )
    return [r[0] for r in rows]


def browse_pairs(store: LabelStore, filters: BrowseFilter, *, limit: int = 1000) -> pd.DataFrame:
    """One row per matching pair, in import order, at most ``limit`` rows."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.reason:
        clauses.append("EXISTS (SELECT 1 FROM json_each(p.reasons) j WHERE j.value = ?)")
        params.append(filters.reason)
    if filters.pool:
        clauses.append("p.pool = ?")
        params.append(filters.pool)
    if filters.annotator:
        clauses.append(
            "EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.pair_id AND l.annotator = ?)"
        )
        params.append(filters.annotator)
    if filters.flagged_only:
        clauses.append("coalesce(v.n_flagged, 0) > 0")
    if filters.search.strip():
        # instr over lower(): a plain substring match, so %, _ and quotes in the
        # search box mean themselves (no LIKE wildcards to escape).
        clauses.append(
            "instr(lower(p.pair_id || ' ' || coalesce(p.prompt, '') || ' ' || coalesce(p.chosen, '')"
            " || ' ' || coalesce(p.rejected, '')), lower(?)) > 0"
        )
        params.append(filters.search.strip())
    if filters.status:
        clauses.append(f"({_STATUS_SQL}) = ?")
        params.append(filters.status)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"""
    SELECT p.pair_id, p.pool, p.reasons, p.prompt, coalesce(v.n_votes, 0) AS votes,
           coalesce(v.n_skips, 0) AS skips, coalesce(v.n_flagged, 0) AS flags,
           coalesce(v.who, '') AS annotators, ({_STATUS_SQL}) AS status
    FROM pairs p
    LEFT JOIN (
        SELECT pair_id, sum(choice != 'skip') AS n_votes, sum(choice = 'skip') AS n_skips,
               sum(flagged) AS n_flagged,
               count(DISTINCT CASE WHEN choice != 'skip' THEN choice END) AS n_distinct,
               group_concat(annotator, ', ') AS who
        FROM labels GROUP BY pair_id
    ) v ON v.pair_id = p.pair_id
    LEFT JOIN adjudications a ON a.pair_id = p.pair_id
    {where}
    ORDER BY p.rowid
    LIMIT ?
    """
    rows = store.connection().execute(sql, (*params, limit)).fetchall()
    records = [
        {
            "pair_id": r["pair_id"],
            "pool": r["pool"],
            "reasons": ", ".join(json.loads(r["reasons"])),
            "status": r["status"],
            "votes": r["votes"],
            "skips": r["skips"],
            "flags": r["flags"],
            "annotators": r["annotators"],
            "prompt": preview(r["prompt"]),
        }
        for r in rows
    ]
    columns = [
        "pair_id",
        "pool",
        "reasons",
        "status",
        "votes",
        "skips",
        "flags",
        "annotators",
        "prompt",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def preview(stored_json: str | None) -> str:
    """A one-line preview of a stored prompt (text, or the last message's content)."""
    if stored_json is None:
        return ""
    value = json.loads(stored_json)
    if isinstance(value, list):
        value = value[-1].get("content", "") if value and isinstance(value[-1], dict) else ""
    text = " ".join(str(value).split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
