"""The label database's tables, as one SQL script run on every open (idempotent).

Votes are counted into ``pairs.n_votes`` by the writers so the queue can walk an index
instead of counting labels for 100k pairs on every "next".
"""

from __future__ import annotations

SCHEMA_SQL = """
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
