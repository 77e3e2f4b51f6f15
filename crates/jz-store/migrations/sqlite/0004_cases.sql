-- The case closed loop (SQLite dialect): categories, departments and responsibility rules, the
-- working-day calendar, users with API tokens, cases with their reports, timeline and photos.
-- A case's full domain state is the JSON in case_file.data; the other columns are copies of it
-- for queues, filters and the deadline scheduler, written in the same statement.

CREATE TABLE category (
    code        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    major_code  TEXT NOT NULL,
    major_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    urgency     TEXT NOT NULL,
    domain      TEXT NOT NULL,
    limits      TEXT NOT NULL,
    active      INTEGER NOT NULL,
    version     INTEGER NOT NULL
);

CREATE TABLE part_class (
    code        TEXT PRIMARY KEY,
    major_code  TEXT NOT NULL,
    major_name  TEXT NOT NULL,
    name        TEXT NOT NULL
);

CREATE TABLE department (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    level         TEXT NOT NULL,
    division_code TEXT NOT NULL,
    active        INTEGER NOT NULL,
    version       INTEGER NOT NULL
);

CREATE TABLE responsibility_rule (
    id             TEXT PRIMARY KEY,
    category_scope TEXT NOT NULL,
    territory_kind TEXT NOT NULL,
    territory      TEXT NOT NULL,
    level          TEXT NOT NULL,
    department_id  TEXT NOT NULL REFERENCES department (id),
    priority       INTEGER NOT NULL,
    fallback       INTEGER NOT NULL,
    created_at_us  INTEGER NOT NULL
);

CREATE TABLE calendar_day (
    day   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL,
    name  TEXT NOT NULL
);

CREATE TABLE setting (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    version INTEGER NOT NULL
);

CREATE TABLE app_user (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    territory     TEXT,
    department_id TEXT REFERENCES department (id),
    token_hash    TEXT UNIQUE,
    active        INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE case_file (
    id             TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    category_code  TEXT REFERENCES category (code),
    urgency        TEXT NOT NULL,
    lon            REAL NOT NULL,
    lat            REAL NOT NULL,
    grid_code      TEXT NOT NULL,
    community_code TEXT NOT NULL,
    street_code    TEXT NOT NULL,
    district_code  TEXT NOT NULL,
    department_id  TEXT,
    level          TEXT NOT NULL,
    stage          TEXT,
    deadline_at_us INTEGER,
    next_due_at_us INTEGER,
    overdue        INTEGER NOT NULL,
    reporters      INTEGER NOT NULL,
    reported_at_us INTEGER NOT NULL,
    closed_at_us   INTEGER,
    updated_at_us  INTEGER NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX case_file_state ON case_file (state, reported_at_us);
CREATE INDEX case_file_department ON case_file (department_id, state);
CREATE INDEX case_file_street ON case_file (street_code, state);
CREATE INDEX case_file_district ON case_file (district_code, state);
CREATE INDEX case_file_due ON case_file (next_due_at_us) WHERE next_due_at_us IS NOT NULL;

CREATE TABLE case_report (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES case_file (id),
    channel         TEXT NOT NULL,
    description     TEXT NOT NULL,
    lon             REAL NOT NULL,
    lat             REAL NOT NULL,
    input_lon       REAL NOT NULL,
    input_lat       REAL NOT NULL,
    datum           TEXT NOT NULL,
    address         TEXT,
    reporter_name   TEXT,
    reporter_phone  TEXT,
    reporter_email  TEXT,
    reporter_account TEXT,
    device_id       TEXT,
    submitted_by    TEXT NOT NULL,
    intake_key      TEXT UNIQUE,
    classification  TEXT,
    reported_at_us  INTEGER NOT NULL,
    rating          TEXT,
    rating_comment  TEXT,
    rating_round    INTEGER,
    rated_at_us     INTEGER
);
CREATE INDEX case_report_case ON case_report (case_id);

CREATE TABLE case_event (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES case_file (id),
    kind        TEXT NOT NULL,
    at_us       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    note        TEXT,
    lon         REAL,
    lat         REAL,
    photos      TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX case_event_case ON case_event (case_id, id);

CREATE TABLE photo (
    id           TEXT PRIMARY KEY,
    case_id      TEXT REFERENCES case_file (id),
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    uploaded_by  TEXT NOT NULL,
    at_us        INTEGER NOT NULL
);
CREATE INDEX photo_case ON photo (case_id);
