"""Final decisions on pairs where annotators disagree.

An adjudication is not another vote: export takes it instead of the majority, and it
is logged as an ``adjudicate`` event like every other write.
"""

from __future__ import annotations

from prefdata.annotate.label_store import VOTES, LabelStore, check_annotator, log_event, now_iso
from prefdata.errors import ConfigError, InputError


def adjudicate(
    store: LabelStore, pair_id: str, adjudicator: str, *, choice: str, note: str = ""
) -> None:
    """Record (or replace) the final decision on a pair."""
    adjudicator = check_annotator(adjudicator)
    if choice not in VOTES:
        raise ConfigError(f"adjudication choice must be one of {list(VOTES)}, got {choice!r}")
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM pairs WHERE pair_id = ?", (pair_id,)).fetchone() is None:
            raise InputError(f"no pair with id {pair_id!r} in {store.path}")
        conn.execute(
            "INSERT INTO adjudications (pair_id, choice, adjudicator, note, at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pair_id) DO UPDATE SET"
            " choice = excluded.choice, adjudicator = excluded.adjudicator,"
            " note = excluded.note, at = excluded.at",
            (pair_id, choice, adjudicator, note, now_iso()),
        )
        log_event(conn, adjudicator, pair_id, "adjudicate", {"choice": choice, "note": note})


def adjudications(store: LabelStore) -> dict[str, str]:
    """{pair_id: final choice} for every adjudicated pair."""
    rows = store.connection().execute("SELECT pair_id, choice FROM adjudications")
    return {r[0]: r[1] for r in rows}
