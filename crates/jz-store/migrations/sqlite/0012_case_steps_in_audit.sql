-- A case's timeline is read from the audit log. Each command on a case writes one audit entry
-- (subject 'case', action 'case.<its first step>'), and since this migration the entry's
-- after_json carries the steps the command made, in order, under "steps": each step's id, kind,
-- the states it left and reached, note, position, photos and detail, and its actor and role
-- where they are not the entry's (its time is the entry's). The timeline thereby shares the
-- chain's tamper evidence. A report registered and dispatched at once is now one audit row; it
-- was three case_event rows (four B-trees each) and three audit entries. Measured: about 13 %
-- less server CPU per intake report, a quarter less in the writer (docs/benchmarks.md).
--
-- The audit log is append-only, so steps written before this migration stay in case_event,
-- which nothing writes any more. The view case_step is the timeline of both: the old rows and
-- the steps of the audit entries, with case_event's columns.
CREATE VIEW case_step (id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail) AS
SELECT id, case_id, kind, at_us, actor, role, from_state, to_state, note, lon, lat, photos, detail
FROM case_event
UNION ALL
SELECT s.value ->> '$.id', a.subject_id, s.value ->> '$.kind',
       a.at_us,
       coalesce(s.value ->> '$.actor', a.actor), coalesce(s.value ->> '$.role', a.actor_role),
       s.value ->> '$.from', s.value ->> '$.to', s.value ->> '$.note',
       s.value ->> '$.lon', s.value ->> '$.lat', s.value -> '$.photos', s.value -> '$.detail'
FROM audit_log a, json_each(a.after_json, '$.steps') s
WHERE a.subject_kind = 'case';

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
