-- A case's timeline is read from the audit log. Each step of a case is one audit entry (subject
-- 'case', action 'case.<kind>'), and since this migration the entry's after_json carries the
-- step itself under "step": its id, the state it left, note, position, photos and detail. The
-- timeline thereby shares the chain's tamper evidence, and intake writes one row per step
-- instead of two: the case_event rows with their four B-trees were a fifth of intake's CPU
-- (measured, docs/benchmarks.md).
--
-- The audit log is append-only, so steps written before this migration stay in case_event,
-- which nothing writes any more. The view case_step is the timeline of both: the old rows and
-- the audit entries that carry a step, with case_event's columns.
CREATE VIEW case_step (id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail) AS
SELECT id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail
FROM case_event
UNION ALL
SELECT after_json ->> '$.step.id', subject_id, substr(action, 6), at_us, actor, actor_role,
       after_json ->> '$.step.from', after_json ->> '$.state', after_json ->> '$.step.note',
       after_json ->> '$.step.lon', after_json ->> '$.step.lat',
       after_json -> '$.step.photos', after_json -> '$.step.detail'
FROM audit_log
WHERE subject_kind = 'case' AND json_type(after_json, '$.step') = 'object';

-- Open311 updates by date (FixMyStreet polls them) read the steps by time, all cases' or some
-- cases'; the subject index gains the time so that a list of cases within dates reads only
-- those cases' entries within the dates.
CREATE INDEX audit_log_subject_at ON audit_log (subject_kind, at_us);
DROP INDEX audit_log_subject;
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id, at_us);

-- An Open311 update's event is now a step in the audit log: its id is no longer a case_event
-- row's, so the foreign key goes (SQLite drops one by rebuilding the table).
CREATE TABLE open311_update_next (
    api_key_id  TEXT NOT NULL,
    update_id   TEXT NOT NULL,
    case_id     TEXT NOT NULL REFERENCES case_file (id),
    event_id    TEXT NOT NULL,
    at_us       INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, update_id)
);
INSERT INTO open311_update_next (api_key_id, update_id, case_id, event_id, at_us)
SELECT api_key_id, update_id, case_id, event_id, at_us FROM open311_update;
DROP TABLE open311_update;
ALTER TABLE open311_update_next RENAME TO open311_update;
