"""Write the labelled dataset, every raw annotation and the agreement figures.

``OUT/labelled.parquet`` is canonical (``id``, ``prompt``, ``chosen``, ``rejected`` plus
the input's extra columns) so it feeds ``prefdata`` and TRL directly. Each pair takes
the majority vote of its annotators (an adjudication, when recorded, overrides it):

* "chosen" wins: the pair is kept as it was;
* "rejected" wins: people preferred the original rejected response, so the pair is
  written flipped (``flipped`` = true);
* "tie" or "both_bad" wins, no strict majority, or fewer than ``min_votes`` votes:
  the pair is left out, and counted in ``export_summary.json``.

Every labelled row and every annotation carries ``filter_verdict`` ("kept", or
"dropped" for a pair the filter dropped and someone labelled anyway, e.g. in an older
release's Browse), so such pairs never re-enter a training set unnoticed; labelled rows
also carry the filter's ``filter_reasons``.

``OUT/annotations.parquet`` holds every current label (skips included),
``OUT/events.parquet`` the full event log, ``OUT/agreement.json`` the figures.
Every file is written to a temporary name and moved into place with ``os.replace``,
so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata import schema
from prefdata.annotate.adjudication import adjudications
from prefdata.annotate.agreement import agreement_report, votes_by_item
from prefdata.annotate.label_store import LabelStore, Pair
from prefdata.errors import ConfigError, InputError


@dataclass(frozen=True)
class ExportSummary:
    labelled_pairs: int
    kept_as_is: int
    flipped: int
    dropped_tie: int
    dropped_both_bad: int
    dropped_no_majority: int
    dropped_too_few_votes: int
    annotations: int
    out_dir: str
    labelled_filter_dropped: int = 0  # labelled rows whose pair the filter had dropped


def majority(votes: list[str]) -> str | None:
    """The strict plurality vote, or None when the top count is shared.

    >>> majority(["chosen", "rejected", "chosen"])
    'chosen'
    >>> majority(["chosen", "rejected"]) is None
    True
    """
    if not votes:
        return None
    ranked = Counter(votes).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


@dataclass
class _Read:
    """Everything an export reads, taken from one state of the database."""

    labels: list[Any]
    rows: list[dict[str, Any]]
    counts: Counter[str]
    shapes: set[str]
    pools: dict[str, str]
    events: list[dict[str, Any]]
    agreement: dict[str, Any]


def _read(store: LabelStore, min_votes: int) -> _Read:
    labels = store.labels()
    items = votes_by_item(labels)
    decided = adjudications(store)
    counts: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    shapes: set[str] = set()
    for pair_id in sorted(set(items) | set(decided)):
        votes = list(items.get(pair_id, {}).values())
        if pair_id in decided:
            verdict: str | None = decided[pair_id]
        elif len(votes) < min_votes:
            counts["dropped_too_few_votes"] += 1
            continue
        else:
            verdict = majority(votes)
        if verdict is None:
            counts["dropped_no_majority"] += 1
            continue
        if verdict in ("tie", "both_bad"):
            counts[f"dropped_{verdict}"] += 1
            continue
        pair = store.pair(pair_id)
        shapes.add(pair.shape)
        flipped = verdict == "rejected"
        counts["flipped" if flipped else "kept_as_is"] += 1
        rows.append(_output_row(pair, flipped=flipped, votes=votes, adjudicated=pair_id in decided))
    pools = dict(store.connection().execute("SELECT pair_id, pool FROM pairs").fetchall())
    return _Read(
        labels, rows, counts, shapes, pools, store.events(), agreement_report(store).to_dict()
    )


def export_labels(store: LabelStore, out_dir: str | Path, *, min_votes: int = 1) -> ExportSummary:
    """Export the store's labels into ``out_dir`` (created if needed).

    Every figure comes from one state of the database (``LabelStore.consistent``), so an
    export taken while annotators label agrees with itself across its files.
    """
    if min_votes < 1:
        raise ConfigError(f"min_votes must be >= 1, got {min_votes}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    read = store.consistent(lambda: _read(store, min_votes))
    rows, counts, labels = read.rows, read.counts, read.labels
    if len(read.shapes) > 1:
        raise InputError(
            "the labelled pairs mix text and conversational shapes; import one shape per database"
        )
    shape = read.shapes.pop() if read.shapes else "text"
    _write_parquet(out / "labelled.parquet", _labelled_table(rows, shape))
    annotations = pa.Table.from_pylist(
        [{**asdict(lab), "filter_verdict": read.pools.get(lab.pair_id)} for lab in labels],
        schema=_ANNOTATION_SCHEMA,
    )
    _write_parquet(out / "annotations.parquet", annotations)
    _write_parquet(out / "events.parquet", pa.Table.from_pylist(read.events, schema=_EVENT_SCHEMA))
    _write_atomic(
        out / "agreement.json", lambda p: p.write_text(json.dumps(read.agreement, indent=2))
    )
    summary = ExportSummary(
        labelled_pairs=len(rows),
        kept_as_is=counts["kept_as_is"],
        flipped=counts["flipped"],
        dropped_tie=counts["dropped_tie"],
        dropped_both_bad=counts["dropped_both_bad"],
        dropped_no_majority=counts["dropped_no_majority"],
        dropped_too_few_votes=counts["dropped_too_few_votes"],
        annotations=len(labels),
        out_dir=str(out),
        labelled_filter_dropped=sum(r["filter_verdict"] == "dropped" for r in rows),
    )
    _write_atomic(
        out / "export_summary.json", lambda p: p.write_text(json.dumps(asdict(summary), indent=2))
    )
    return summary


def _output_row(
    pair: Pair, *, flipped: bool, votes: list[str], adjudicated: bool
) -> dict[str, Any]:
    chosen, rejected = (pair.rejected, pair.chosen) if flipped else (pair.chosen, pair.rejected)
    row = {
        schema.ID: pair.pair_id,
        schema.PROMPT: pair.prompt,
        schema.CHOSEN: chosen,
        schema.REJECTED: rejected,
    }
    # The input's own columns ride along, unless they would shadow ours.
    row.update({k: v for k, v in pair.extra.items() if k not in row and k not in _LABEL_COLUMNS})
    row.update(
        {
            "flipped": flipped,
            "n_votes": len(votes),
            "adjudicated": adjudicated,
            "vote_share": (Counter(votes).most_common(1)[0][1] / len(votes)) if votes else None,
            "filter_verdict": pair.pool,
            "filter_reasons": list(pair.reasons),
        }
    )
    return row


_LABEL_COLUMNS = (
    "flipped",
    "n_votes",
    "adjudicated",
    "vote_share",
    "filter_verdict",
    "filter_reasons",
)


def _labelled_table(rows: list[dict[str, Any]], shape: str) -> pa.Table:
    fixed = [
        *schema.canonical_fields(shape),  # type: ignore[arg-type]
        pa.field("flipped", pa.bool_()),
        pa.field("n_votes", pa.int64()),
        pa.field("adjudicated", pa.bool_()),
        pa.field("vote_share", pa.float64()),
        pa.field("filter_verdict", pa.string()),
        pa.field("filter_reasons", pa.list_(pa.string())),
    ]
    if not rows:
        return pa.Table.from_pylist([], schema=pa.schema(fixed))
    table = pa.Table.from_pylist(rows)
    # Put the canonical columns first with their canonical types; extras keep theirs.
    names = [f.name for f in fixed]
    extras = [c for c in table.column_names if c not in names]
    columns = [table.column(f.name).cast(f.type) for f in fixed] + [table.column(c) for c in extras]
    return pa.Table.from_arrays(columns, names=names + extras)


_ANNOTATION_SCHEMA = pa.schema(
    [
        ("pair_id", pa.string()),
        ("annotator", pa.string()),
        ("choice", pa.string()),
        ("strength", pa.string()),
        ("left_response", pa.string()),
        ("comment", pa.string()),
        ("flagged", pa.bool_()),
        ("skip_reason", pa.string()),
        ("seconds", pa.float64()),
        ("created_at", pa.string()),
        ("updated_at", pa.string()),
        ("filter_verdict", pa.string()),
    ]
)
_EVENT_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("at", pa.string()),
        ("annotator", pa.string()),
        ("pair_id", pa.string()),
        ("kind", pa.string()),
        ("undoes", pa.int64()),
        ("payload", pa.string()),
    ]
)


def _write_parquet(path: Path, table: pa.Table) -> None:
    _write_atomic(path, lambda p: pq.write_table(table, p))


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
