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
SELECT s.step ->> 'id', a.subject_id, s.step ->> 'kind',
       a.at_us,
       coalesce(s.step ->> 'actor', a.actor), coalesce(s.step ->> 'role', a.actor_role),
       s.step ->> 'from', s.step ->> 'to', s.step ->> 'note',
       (s.step ->> 'lon')::double precision, (s.step ->> 'lat')::double precision,
       (s.step -> 'photos')::text, (s.step -> 'detail')::text
FROM audit_log a
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(a.after_json::jsonb -> 'steps') = 'array'
         THEN a.after_json::jsonb -> 'steps' ELSE '[]'::jsonb END) AS s (step)
WHERE a.subject_kind = 'case';

-- Open311 updates by date (FixMyStreet polls them) read the steps by time, all cases' or some
-- cases'; the subject index gains the time so that a list of cases within dates reads only
-- those cases' entries within the dates.
CREATE INDEX audit_log_subject_at ON audit_log (subject_kind, at_us);
DROP INDEX audit_log_subject;
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id, at_us);

-- An Open311 update's event is now a step in the audit log: its id is no longer a case_event
-- row's, so the foreign key goes.
ALTER TABLE open311_update DROP CONSTRAINT open311_update_event_id_fkey;
