-- Foundation: the hash-chained audit log, its head, and the outbox (PostgreSQL dialect).

CREATE TABLE audit_log (
    seq           BIGINT  PRIMARY KEY,
    at_us         BIGINT  NOT NULL,
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

-- The audit log is append-only: the store never updates, deletes or truncates an entry.
CREATE FUNCTION jz_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION jz_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION jz_audit_log_append_only();

-- One row: the number and hash of the last entry, updated in the same transaction as the log.
-- Writers lock this row first, so writers in several processes extend one chain in turn.
CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT   NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic               TEXT    NOT NULL,
    payload             TEXT    NOT NULL,
    created_at_us       BIGINT  NOT NULL,
    attempts            BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at_us  BIGINT  NOT NULL,
    delivered_at_us     BIGINT,
    last_error          TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at_us) WHERE delivered_at_us IS NULL;
