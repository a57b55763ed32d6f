"""Which pair an annotator sees next.

Pairs on the review queue (``prefdata audit``) first, in rank order; then, with the
default ``overlap-first`` order, pairs that already have at least one vote but fewer
than ``overlap`` (fewest votes first, in import order), and only then untouched pairs:
with ``--overlap 2`` agreement becomes measurable after the first few dozen labels
instead of after the whole set has one vote. ``breadth-first`` serves least-annotated
first (every pair gets one vote before any gets a second). Never a pair the
annotator has already labelled or skipped, and never past ``overlap`` votes per pair.
A pair handed out is *claimed* for ``claim_seconds`` so two annotators working at the
same moment do not both take the last open slot; reloading the page returns the same
claimed pair instead of a new one.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from prefdata.annotate.label_store import LabelStore, check_annotator
from prefdata.errors import ConfigError

# Long enough to read a long pair and think; short enough that an abandoned tab does
# not hide a pair from everyone else for the rest of the session.
DEFAULT_CLAIM_SECONDS = 600.0
QUEUE_ORDERS = ("overlap-first", "breadth-first")

_NEXT_SQL = """
SELECT p.pair_id FROM pairs p INDEXED BY pairs_queue
WHERE p.queueable = 1 AND p.n_votes < :overlap AND p.n_votes >= :min_votes
  AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.pair_id AND l.annotator = :who)
  AND p.n_votes + (SELECT count(*) FROM claims c WHERE c.pair_id = p.pair_id
                   AND c.annotator != :who AND c.expires_at > :now) < :overlap
ORDER BY p.n_votes, p.rowid
LIMIT 1
"""
# The same conditions over the (small) review queue, in audit rank order; kept apart
# from _NEXT_SQL so the common case still walks the pairs_queue index without a join.
_REVIEW_SQL = (
    _NEXT_SQL.replace("FROM pairs p INDEXED BY pairs_queue", "FROM review_queue r JOIN pairs p"
                      " ON p.pair_id = r.pair_id")
    .replace("ORDER BY p.n_votes, p.rowid", "ORDER BY r.rank, p.rowid")
)  # fmt: skip


def next_pair(
    store: LabelStore,
    annotator: str,
    *,
    overlap: int = 1,
    claim_seconds: float = DEFAULT_CLAIM_SECONDS,
    exclude: tuple[str, ...] = (),
    order: str = "overlap-first",
) -> str | None:
    """Claim and return the next pair id for ``annotator``, or None when none is left.

    ``exclude`` names pairs not to return even if claimed (e.g. the one just passed
    over with "next"), so moving on never hands back the same pair. ``order`` is one
    of ``QUEUE_ORDERS`` (see the module docstring).
    """
    annotator = check_annotator(annotator)
    if overlap < 1:
        raise ConfigError(f"overlap must be >= 1, got {overlap}")
    if order not in QUEUE_ORDERS:
        raise ConfigError(f"queue order must be one of {list(QUEUE_ORDERS)}, got {order!r}")
    # overlap-first: first look only at pairs someone has voted on, then at the rest.
    floors = (1, 0) if order == "overlap-first" and overlap > 1 else (0,)
    now = time.time()
    with store.write() as conn:
        conn.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
        marks = ",".join("?" * len(exclude))
        held = conn.execute(
            "SELECT c.pair_id FROM claims c WHERE c.annotator = ? AND NOT EXISTS (SELECT 1 FROM"
            " labels l WHERE l.pair_id = c.pair_id AND l.annotator = c.annotator)"
            " AND (SELECT n_votes FROM pairs p WHERE p.pair_id = c.pair_id) < ?"
            + (f" AND c.pair_id NOT IN ({marks})" if exclude else "")
            + " ORDER BY c.rowid LIMIT 1",
            (annotator, overlap, *exclude),
        ).fetchone()
        if held is not None:
            pair_id = str(held[0])
        else:
            found = _run_next(conn, _REVIEW_SQL, overlap, annotator, now, exclude, 0)
            for floor in floors:
                if found is None:
                    found = _run_next(conn, _NEXT_SQL, overlap, annotator, now, exclude, floor)
            if found is None:
                return None
            pair_id = found
        conn.execute(
            "INSERT INTO claims (pair_id, annotator, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (pair_id, annotator) DO UPDATE SET expires_at = excluded.expires_at",
            (pair_id, annotator, now + claim_seconds),
        )
    return pair_id


def _run_next(
    conn: sqlite3.Connection,
    sql: str,
    overlap: int,
    annotator: str,
    now: float,
    exclude: tuple[str, ...],
    min_votes: int,
) -> str | None:
    params: dict[str, object] = {
        "overlap": overlap,
        "who": annotator,
        "now": now,
        "min_votes": min_votes,
    }
    if exclude:
        names = [f":x{i}" for i in range(len(exclude))]
        sql = sql.replace("ORDER BY", f"AND p.pair_id NOT IN ({', '.join(names)})\nORDER BY")
        params.update({f"x{i}": v for i, v in enumerate(exclude)})
    row = conn.execute(sql, params).fetchone()
    return None if row is None else str(row[0])


def release(store: LabelStore, annotator: str, pair_id: str) -> None:
    """Give a claimed pair back (the annotator moved on without labelling it)."""
    with store.write() as conn:
        conn.execute("DELETE FROM claims WHERE pair_id = ? AND annotator = ?", (pair_id, annotator))


@dataclass(frozen=True)
class Progress:
    """One annotator's standing: labelled and skipped pairs, and how many are still
    open to them under the overlap (``remaining``)."""

    labelled: int
    skipped: int
    remaining: int

    @property
    def done(self) -> int:
        return self.labelled + self.skipped


def progress(store: LabelStore, annotator: str, *, overlap: int = 1) -> Progress:
    conn = store.connection()
    counts = dict(
        conn.execute(
            "SELECT choice = 'skip', count(*) FROM labels WHERE annotator = ? GROUP BY 1",
            (annotator,),
        ).fetchall()
    )
    remaining = conn.execute(
        "SELECT count(*) FROM pairs p WHERE p.queueable = 1 AND p.n_votes < ? AND NOT EXISTS"
        " (SELECT 1 FROM labels l WHERE l.pair_id = p.pair_id AND l.annotator = ?)",
        (overlap, annotator),
    ).fetchone()[0]
    return Progress(
        labelled=int(counts.get(0, 0)), skipped=int(counts.get(1, 0)), remaining=int(remaining)
    )
