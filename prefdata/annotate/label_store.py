"""The label store: pairs, one label per (pair, annotator), and an append-only event log.

SQLite is the embedded default because an annotation round is a handful of people on
one server: WAL lets readers run while one writer commits, ``BEGIN IMMEDIATE`` takes
the write lock up front so a transaction never fails half-way on a lock upgrade, and
the busy timeout makes concurrent writers queue instead of raising "database is locked".

Labels are stored against the *response* ("chosen" or "rejected" as in the data), never
against the screen side; ``left_response`` records which response was shown on the
left so position bias can be measured and cancelled.

>>> store = LabelStore(":memory:")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from prefdata.annotate.screens import check_on_screen, on_screen, put_on_screen
from prefdata.annotate.store_open import (
    StoreError,
    connect,
    create_or_upgrade,
    describe,
    ensure_sound,
    schema_version,
)
from prefdata.errors import ConfigError, InputError

T = TypeVar("T")

# What a label says about the pair, in the data's terms.
Choice = Literal["chosen", "rejected", "tie", "both_bad", "skip"]
CHOICES: tuple[str, ...] = ("chosen", "rejected", "tie", "both_bad", "skip")
VOTES: tuple[str, ...] = ("chosen", "rejected", "tie", "both_bad")  # a skip is not a vote
STRENGTHS: tuple[str, ...] = ("slightly", "much")
Side = Literal["chosen", "rejected"]


_LABEL_FIELDS = (
    "choice",
    "strength",
    "left_response",
    "comment",
    "flagged",
    "skip_reason",
    "seconds",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Pair:
    """One stored pair; prompt/chosen/rejected are strings or lists of messages."""

    pair_id: str
    shape: str
    prompt: Any
    chosen: Any
    rejected: Any
    pool: str
    reasons: list[str]
    extra: dict[str, Any]
    n_votes: int


@dataclass(frozen=True)
class Label:
    pair_id: str
    annotator: str
    choice: str
    strength: str | None
    left_response: str
    comment: str
    flagged: bool
    skip_reason: str | None
    seconds: float | None
    created_at: str
    updated_at: str


class LabelStore:
    """A SQLite label database; safe to share between threads (one connection each).

    ``path`` is the database file; it is created with its tables on first use. With
    ``read_only`` the file is opened through a ``mode=ro`` URI and must already exist:
    export and the figures work on a read-only file or folder.
    """

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 10_000, read_only: bool = False
    ) -> None:
        if busy_timeout_ms < 0:
            raise ConfigError(f"busy_timeout_ms must be >= 0, got {busy_timeout_ms}")
        self.path = Path(path)
        self.read_only = read_only
        if not self.path.parent.is_dir():
            raise InputError(f"folder for the label database does not exist: {self.path.parent}")
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        # Look before touching: refuse another application's file, a newer schema or a
        # damaged file before anything is written (see store_open).
        version = schema_version(self.path)
        if version is None and read_only:
            raise StoreError(
                f"no label database at {self.path}: run `prefdata annotate import` first"
            )
        conn = self.connection()
        ensure_sound(self.path, conn)
        if not read_only:
            self._prepare(conn, version)

    # -- connections ---------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # a read-only store is read as immutable when no -wal exists (store_open)
                self._local.immutable = self.read_only and not Path(f"{self.path}-wal").exists()
                conn = connect(
                    self.path,
                    read_only=self.read_only,
                    timeout_s=self.busy_timeout_ms / 1000,
                    immutable=self._local.immutable,
                )
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                if not self.read_only:
                    conn.execute("PRAGMA foreign_keys = ON")
                    # NORMAL is durable across application crashes in WAL mode; only a
                    # power loss can drop the last commits, an acceptable trade for clicks.
                    conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(describe(self.path, exc)) from None
            self._local.conn = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection, version: int | None) -> None:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(describe(self.path, exc)) from None
        if str(mode).lower() != "wal" and str(self.path) != ":memory:":
            raise InputError(f"cannot switch {self.path} to WAL mode (got {mode!r})")
        create_or_upgrade(conn, self.path, version)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One writer transaction, taking the write lock at BEGIN.

        Threads of one process (the sessions of one Streamlit server) first queue on a
        Python lock: SQLite's busy handler polls with sleeps of up to 100 ms, which under
        contention gives some writers second-long stalls, while a lock hands over at
        once. The busy timeout still covers writers in other processes.
        """
        conn = self.connection()
        with _process_lock(self.path):
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                # One line naming the file and the fix, never a driver traceback.
                raise StoreError(describe(self.path, exc)) from None

    def consistent(self, read: Callable[[], T], *, tries: int = 3) -> T:
        """``read()`` run so that all its queries see one state of the database, while
        annotators may be labelling.

        The queries share one read transaction, which pins a WAL reader to one snapshot.
        A read-only store opened when no ``-wal`` file existed reads the file as immutable
        (no locks, see ``store_open.connect``), so a writer's checkpoint could change the
        file under it: the file is compared before and after, and a changed file is read
        again through a fresh connection, which sees the writer's ``-wal`` and takes a
        snapshot like any reader.
        """
        for _ in range(tries):
            conn = self.connection()
            before = self._file_state()
            try:
                conn.execute("BEGIN")
                try:
                    result = read()
                finally:
                    conn.execute("COMMIT")  # nothing was written: ends the snapshot
            except sqlite3.Error as exc:
                # a page read while a checkpoint rewrote it can look damaged: read again
                if not self._local.immutable or self._file_state() == before:
                    raise StoreError(describe(self.path, exc)) from None
                self.close()
                continue
            if not self._local.immutable or self._file_state() == before:
                return result
            self.close()
        raise StoreError(
            f"{self.path} kept changing while it was read: run again, or pause labelling"
        )

    def _file_state(self) -> tuple[int, int, bool]:
        stat = self.path.stat()
        return stat.st_size, stat.st_mtime_ns, Path(f"{self.path}-wal").exists()

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- pairs ---------------------------------------------------------------------
    def pair(self, pair_id: str) -> Pair:
        row = (
            self.connection()
            .execute("SELECT * FROM pairs WHERE pair_id = ?", (pair_id,))
            .fetchone()
        )
        if row is None:
            raise InputError(f"no pair with id {pair_id!r} in {self.path}")
        return Pair(
            pair_id=row["pair_id"],
            shape=row["shape"],
            prompt=_loads(row["prompt"]),
            chosen=_loads(row["chosen"]),
            rejected=_loads(row["rejected"]),
            pool=row["pool"],
            reasons=json.loads(row["reasons"]),
            extra=json.loads(row["extra"]),
            n_votes=row["n_votes"],
        )

    def pair_count(self, *, queueable_only: bool = False) -> int:
        where = " WHERE queueable = 1" if queueable_only else ""
        return int(self.connection().execute(f"SELECT count(*) FROM pairs{where}").fetchone()[0])

    # -- labels --------------------------------------------------------------------
    def record_label(
        self,
        pair_id: str,
        annotator: str,
        *,
        choice: Choice,
        left_response: Side,
        strength: str | None = None,
        comment: str = "",
        flagged: bool = False,
        skip_reason: str | None = None,
        seconds: float | None = None,
        on_screen_for: float | None = None,
    ) -> str:
        """Store (or replace) one annotator's label for a pair; returns the event kind.

        The upsert on ``UNIQUE(pair_id, annotator)`` makes a double-click or a resubmit
        update the one row rather than add a second. The event is ``label`` for a first
        answer, ``change`` when it replaces one and ``skip`` for a skip; resubmitting
        the same answer writes nothing and returns ``unchanged``.

        With ``on_screen_for`` (seconds) the label is refused with ``StaleLabelError``
        unless ``pair_id`` is the pair ``show`` last put on this annotator's screen and
        has been there that long: the app's guard against a key press meant for the
        previous pair.
        """
        annotator = check_annotator(annotator)
        if choice not in CHOICES:
            raise ConfigError(f"choice must be one of {list(CHOICES)}, got {choice!r}")
        if left_response not in ("chosen", "rejected"):
            raise ConfigError(
                f"left_response must be 'chosen' or 'rejected', got {left_response!r}"
            )
        if strength is not None and (
            strength not in STRENGTHS or choice not in ("chosen", "rejected")
        ):
            raise ConfigError(
                f"strength must be one of {list(STRENGTHS)} on a chosen/rejected label, got {strength!r}"
            )
        new = {
            "choice": choice,
            "strength": strength,
            "left_response": left_response,
            "comment": comment,
            "flagged": bool(flagged),
            "skip_reason": skip_reason if choice == "skip" else None,
            "seconds": seconds,
        }
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM pairs WHERE pair_id = ?", (pair_id,)).fetchone() is None:
                raise InputError(f"no pair with id {pair_id!r} in {self.path}")
            if on_screen_for is not None:
                check_on_screen(conn, annotator, pair_id, on_screen_for)
            old = _label_dict(conn, pair_id, annotator)
            if old is not None and _same_answer(old, new):
                # A double-click or resubmit: the row already says this; log nothing.
                return "unchanged"
            kind = "skip" if choice == "skip" else ("label" if old is None else "change")
            self._apply(conn, pair_id, annotator, old, new)
            conn.execute(
                "DELETE FROM claims WHERE pair_id = ? AND annotator = ?", (pair_id, annotator)
            )
            log_event(conn, annotator, pair_id, kind, {"label": new, "previous": old})
        return kind

    def show(self, annotator: str, pair_id: str) -> None:
        """Record that ``pair_id`` is the pair now on ``annotator``'s screen."""
        annotator = check_annotator(annotator)
        with self.write() as conn:
            put_on_screen(conn, annotator, pair_id)

    def on_screen(self, annotator: str) -> str | None:
        """The pair last put on the annotator's screen, or None."""
        shown = on_screen(self.connection(), annotator)
        return None if shown is None else shown[0]

    def undo_last(self, annotator: str) -> str | None:
        """Revert the annotator's most recent label, change or skip; returns its pair id.

        Undos stack: each undo reverts the newest action no earlier undo has reverted.
        A ``change`` is reverted to the label it replaced.
        """
        annotator = check_annotator(annotator)
        with self.write() as conn:
            row = conn.execute(
                "SELECT e.id, e.pair_id, e.payload FROM events e WHERE e.annotator = ? "
                "AND e.kind IN ('label', 'change', 'skip') AND NOT EXISTS "
                "(SELECT 1 FROM events u WHERE u.undoes = e.id) ORDER BY e.id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                return None
            payload = json.loads(row["payload"])
            current = _label_dict(conn, row["pair_id"], annotator)
            self._apply(conn, row["pair_id"], annotator, current, payload["previous"])
            log_event(
                conn,
                annotator,
                row["pair_id"],
                "undo",
                {"label": payload["previous"], "previous": current},
                undoes=row["id"],
            )
        return str(row["pair_id"])

    def _apply(
        self,
        conn: sqlite3.Connection,
        pair_id: str,
        annotator: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> None:
        """Move one (pair, annotator) label from ``old`` to ``new`` (None = no label)."""
        stamp = now_iso()
        if new is None:
            conn.execute(
                "DELETE FROM labels WHERE pair_id = ? AND annotator = ?", (pair_id, annotator)
            )
        else:
            conn.execute(
                "INSERT INTO labels (pair_id, annotator, choice, strength, left_response, comment,"
                " flagged, skip_reason, seconds, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (pair_id, annotator) DO UPDATE SET choice = excluded.choice,"
                " strength = excluded.strength, left_response = excluded.left_response,"
                " comment = excluded.comment, flagged = excluded.flagged,"
                " skip_reason = excluded.skip_reason, seconds = excluded.seconds,"
                " updated_at = excluded.updated_at",
                (
                    pair_id,
                    annotator,
                    new["choice"],
                    new["strength"],
                    new["left_response"],
                    new["comment"],
                    int(new["flagged"]),
                    new["skip_reason"],
                    new["seconds"],
                    stamp,
                    stamp,
                ),
            )
        delta = _is_vote(new) - _is_vote(old)
        if delta:
            conn.execute(
                "UPDATE pairs SET n_votes = n_votes + ? WHERE pair_id = ?", (delta, pair_id)
            )

    def labels(self, *, annotator: str | None = None, pair_id: str | None = None) -> list[Label]:
        """Current labels (skips included), in the order they were first given."""
        clauses, params = [], []
        if annotator is not None:
            clauses.append("annotator = ?")
            params.append(annotator)
        if pair_id is not None:
            clauses.append("pair_id = ?")
            params.append(pair_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self.connection()
            .execute(f"SELECT * FROM labels{where} ORDER BY created_at, rowid", params)
            .fetchall()
        )
        return [Label(**{**dict(r), "flagged": bool(r["flagged"])}) for r in rows]

    def label(self, pair_id: str, annotator: str) -> Label | None:
        found = self.labels(annotator=annotator, pair_id=pair_id)
        return found[0] if found else None

    def annotators(self) -> list[str]:
        rows = self.connection().execute("SELECT DISTINCT annotator FROM labels ORDER BY 1")
        return [r[0] for r in rows]

    def events(self, *, annotator: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT * FROM events" + (" WHERE annotator = ?" if annotator else "") + " ORDER BY id"
        )
        rows = self.connection().execute(sql, (annotator,) if annotator else ())
        return [dict(r) for r in rows]


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.Lock:
    """One lock per database file in this process, shared by every LabelStore on it."""
    key = str(path.resolve()) if str(path) != ":memory:" else str(id(path))
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def check_annotator(name: str) -> str:
    """Annotator names are trimmed, non-empty and short (they label every row)."""
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > 64:
        raise ConfigError(f"annotator name must be 1-64 characters, got {name!r}")
    return cleaned


def _same_answer(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(old[k] == new[k] for k in _LABEL_FIELDS if k != "seconds")


def _is_vote(label: dict[str, Any] | None) -> int:
    return int(label is not None and label["choice"] != "skip")


def _label_dict(conn: sqlite3.Connection, pair_id: str, annotator: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(_LABEL_FIELDS)} FROM labels WHERE pair_id = ? AND annotator = ?",
        (pair_id, annotator),
    ).fetchone()
    if row is None:
        return None
    found = dict(row)
    found["flagged"] = bool(found["flagged"])
    return found


def log_event(
    conn: sqlite3.Connection,
    annotator: str,
    pair_id: str,
    kind: str,
    payload: dict[str, Any],
    *,
    undoes: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO events (at, annotator, pair_id, kind, undoes, payload) VALUES (?, ?, ?, ?, ?, ?)",
        (now_iso(), annotator, pair_id, kind, undoes, json.dumps(payload, ensure_ascii=False)),
    )


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
