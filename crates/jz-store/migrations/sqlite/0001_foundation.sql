-- Foundation: the hash-chained audit log, its head, and the outbox (SQLite dialect).

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at_us         INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    actor_role    TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    subject_kind  TEXT    NOT NULL,
    subject_id    TEXT    NOT NULL,
    origin        TEXT    NOT NULL,
    before_json   TEXT,
    after_json    TEXT,
    prev_hash     TEXT    NOT NULL,
    hash          TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id);

-- The audit log is append-only: the store never updates or deletes an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- One row: the number and hash of the last entry, updated in the same transaction as the log.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    topic               TEXT    NOT NULL,
    payload             TEXT    NOT NULL,
    created_at_us       INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_us  INTEGER NOT NULL,
    delivered_at_us     INTEGER,
    last_error          TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at_us) WHERE delivered_at_us IS NULL;
