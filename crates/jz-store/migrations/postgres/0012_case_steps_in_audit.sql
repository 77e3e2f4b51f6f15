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
SELECT a.step ->> 'id', a.subject_id, substr(a.action, 6), a.at_us, a.actor, a.actor_role,
       a.step ->> 'from', a.after ->> 'state', a.step ->> 'note',
       (a.step ->> 'lon')::double precision, (a.step ->> 'lat')::double precision,
       (a.step -> 'photos')::text, (a.step -> 'detail')::text
FROM (SELECT l.*, l.after_json::jsonb AS after, l.after_json::jsonb -> 'step' AS step
      FROM audit_log l
      WHERE l.subject_kind = 'case') a
WHERE jsonb_typeof(a.step) = 'object';

-- Open311 updates by date (FixMyStreet polls them) read the steps by time, all cases' or some
-- cases'; the subject index gains the time so that a list of cases within dates reads only
-- those cases' entries within the dates.
CREATE INDEX audit_log_subject_at ON audit_log (subject_kind, at_us);
DROP INDEX audit_log_subject;
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id, at_us);

-- An Open311 update's event is now a step in the audit log: its id is no longer a case_event
-- row's, so the foreign key goes.
ALTER TABLE open311_update DROP CONSTRAINT open311_update_event_id_fkey;
