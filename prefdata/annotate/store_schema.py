"""The label database's tables, its identity stamp and its numbered upgrades.

A prefdata label database carries ``PRAGMA application_id = APPLICATION_ID`` and
``PRAGMA user_version = SCHEMA_VERSION``; ``store_open`` reads both before touching a
file. Schema 1 is the first release's (unstamped); each later version is one entry in
``MIGRATIONS``, run in one transaction with its new version number.

Votes are counted into ``pairs.n_votes`` by the writers so the queue can walk an index
instead of counting labels for 100k pairs on every "next".
"""

from __future__ import annotations

APPLICATION_ID = 0x70726664  # "prfd" in ASCII
SCHEMA_VERSION = 2
# The tables by which an unstamped database of the first release is recognised.
LEGACY_TABLES = frozenset({"pairs", "labels", "events"})

_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS pairs (
    pair_id TEXT PRIMARY KEY,
    shape TEXT NOT NULL,
    prompt TEXT,            -- JSON: a string, or a list of {role, content} messages
    chosen TEXT,
    rejected TEXT,
    extra TEXT NOT NULL DEFAULT '{}',    -- the input's other columns, as JSON
    pool TEXT NOT NULL,                  -- 'kept' or 'dropped' (the filter's verdict)
    reasons TEXT NOT NULL DEFAULT '[]',  -- the filter's reason codes, as JSON
    queueable INTEGER NOT NULL,          -- 1 when it may be served to annotators
    n_votes INTEGER NOT NULL DEFAULT 0,  -- labels other than skips, kept in step by writes
    imported_at TEXT NOT NULL
);
-- The queue walks this index from the least-annotated pair in import order (rowid).
CREATE INDEX IF NOT EXISTS pairs_queue ON pairs (queueable, n_votes);

CREATE TABLE IF NOT EXISTS labels (
    pair_id TEXT NOT NULL REFERENCES pairs (pair_id),
    annotator TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('chosen', 'rejected', 'tie', 'both_bad', 'skip')),
    strength TEXT CHECK (strength IS NULL OR strength IN ('slightly', 'much')),
    left_response TEXT NOT NULL CHECK (left_response IN ('chosen', 'rejected')),
    comment TEXT NOT NULL DEFAULT '',
    flagged INTEGER NOT NULL DEFAULT 0,
    skip_reason TEXT,
    seconds REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (pair_id, annotator)
);
CREATE INDEX IF NOT EXISTS labels_by_annotator ON labels (annotator, updated_at);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    annotator TEXT NOT NULL,
    pair_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'change', 'skip', 'undo', 'adjudicate')),
    undoes INTEGER REFERENCES events (id),
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_annotator ON events (annotator, id);
CREATE INDEX IF NOT EXISTS events_undoes ON events (undoes);
-- The log is evidence: nothing may rewrite or remove it.
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- A pair handed out by the queue is held for a while, so two annotators working at
-- the same moment do not both get the last open slot of a pair.
CREATE TABLE IF NOT EXISTS claims (
    pair_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (pair_id, annotator)
);

CREATE TABLE IF NOT EXISTS adjudications (
    pair_id TEXT PRIMARY KEY REFERENCES pairs (pair_id),
    choice TEXT NOT NULL CHECK (choice IN ('chosen', 'rejected', 'tie', 'both_bad')),
    adjudicator TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);

-- Pairs `prefdata audit` found likely mislabelled (most negative margin first); the
-- queue serves them before every other pair, in rank order.
CREATE TABLE IF NOT EXISTS review_queue (
    pair_id TEXT PRIMARY KEY REFERENCES pairs (pair_id),
    rank INTEGER NOT NULL,
    margin REAL,            -- the trained model's implicit reward margin
    source TEXT NOT NULL,   -- the queue file's name
    queued_at TEXT NOT NULL
);
"""

# Schema 2: accounts and roles (item 1 of issue 14) and the pair on each annotator's
# screen, against which a label is checked (a repeated key press must not land on the
# next pair).
_SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('annotator', 'lead')),
    password_hash TEXT NOT NULL,   -- 'scrypt$n$r$p$salt$hash', hex; never the password
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS screens (
    annotator TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL,
    shown_at REAL NOT NULL         -- time.time() when the pair was put on screen
);
"""

SCHEMA_SQL = _SCHEMA_1 + _SCHEMA_2
# MIGRATIONS[v] turns schema v into v + 1. Schema 1's own tables are repeated (all
# IF NOT EXISTS) because databases from before `prefdata audit` lack review_queue.
MIGRATIONS: dict[int, str] = {1: _SCHEMA_1 + _SCHEMA_2}
