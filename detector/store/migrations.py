"""The store's schema as an ordered list of SQL scripts (frozen history, append only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Final

_V1: Final = """
CREATE TABLE verdicts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('extraction', 'benign')),
    note        TEXT NOT NULL DEFAULT '',
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX verdicts_account ON verdicts (account_id, id);
CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts
BEGIN
    SELECT RAISE(ABORT, 'verdicts are append-only');
END;
CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
BEGIN
    SELECT RAISE(ABORT, 'verdicts are append-only');
END;

CREATE TABLE suppressions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    lifted_at   TEXT,
    lifted_by   TEXT
);
CREATE INDEX suppressions_active ON suppressions (account_id) WHERE lifted_at IS NULL;

CREATE TABLE alerts (
    run_date    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    score       REAL,
    band        TEXT NOT NULL DEFAULT '',
    reasons     TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('new', 'rise')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (run_date, account_id)
);
CREATE INDEX alerts_account ON alerts (account_id, run_date);

CREATE TABLE scores (
    run_date    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    score       REAL NOT NULL,
    flagged     INTEGER NOT NULL CHECK (flagged IN (0, 1)),
    PRIMARY KEY (run_date, account_id)
) WITHOUT ROWID;
CREATE INDEX scores_account ON scores (account_id, run_date);

CREATE TABLE runs (
    run_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_date       TEXT NOT NULL,
    params         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    counts         TEXT,
    model_version  TEXT,
    error          TEXT
);
CREATE INDEX runs_date ON runs (run_date);

CREATE TABLE models (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    version        TEXT NOT NULL UNIQUE,
    path           TEXT NOT NULL,
    digest         TEXT NOT NULL,
    trained_at     TEXT NOT NULL,
    window_start   TEXT,
    window_end     TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    registered_at  TEXT NOT NULL
);
"""

_V2: Final = """
ALTER TABLE scores ADD COLUMN case_id TEXT NOT NULL DEFAULT '';
ALTER TABLE scores ADD COLUMN case_score REAL;
ALTER TABLE scores ADD COLUMN band TEXT NOT NULL DEFAULT '';
ALTER TABLE scores ADD COLUMN top_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX scores_case ON scores (case_id, run_date);

ALTER TABLE verdicts ADD COLUMN score REAL;
ALTER TABLE verdicts ADD COLUMN case_id TEXT NOT NULL DEFAULT '';
ALTER TABLE verdicts ADD COLUMN expires TEXT;
ALTER TABLE suppressions ADD COLUMN case_id TEXT NOT NULL DEFAULT '';

CREATE TABLE rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    field       TEXT NOT NULL
                CHECK (field IN ('account', 'case', 'org', 'card', 'user_agent', 'template')),
    value       TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_at  TEXT,
    removed_by  TEXT
);
CREATE INDEX rules_active ON rules (field) WHERE removed_at IS NULL;

CREATE TABLE nightly_inputs (
    name         TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    run_date     TEXT NOT NULL
);
"""
"""Version 2 (the case queue, suppression rules, remembered nightly inputs).

``scores`` keeps each run's case, case score, band and top reason (the queue's trend
and timeline); a verdict keeps the score it answered, the case it was given through and
its expiry (a ``benign`` verdict lapses); ``rules`` suppress by account, case, org,
card or a user-agent / template pattern; ``nightly_inputs`` holds the inputs the first
nightly run was given (the account table), reused when a later run omits them. Stores
of version 1 upgrade in place: old rows get empty cases and no expiry.
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1, _V2)
"""Schema scripts in order; script ``i`` brings the database to version ``i + 1``.

Append only: a released script is never edited, a change is a new script.
"""

SCHEMA_VERSION_DDL: Final = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
)
"""


def split_script(script: str) -> Iterator[str]:
    """Split an SQL script into statements (``executescript`` would commit mid-migration).

    ``sqlite3.complete_statement`` decides where a statement ends, so semicolons inside
    string literals and ``CREATE TRIGGER ... BEGIN ...; END`` bodies are handled.
    """
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement != ";":
                yield statement
    if buffer.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
