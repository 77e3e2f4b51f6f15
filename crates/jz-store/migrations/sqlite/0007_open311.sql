-- Open311 GeoReport v2 (SQLite dialect). Which categories are offered as Open311 services, with
-- their group, keywords, description and attribute definitions (JSON); the attribute answers and
-- media URLs an Open311 client sent with a report; and the request updates (FixMyStreet's
-- extension) a client posted, by the client's own update id, so a repeated update is answered
-- once. Two append-only indexes serve the public lists: requests by date, updates by date.

CREATE TABLE open311_service (
    category_code TEXT PRIMARY KEY REFERENCES category (code),
    exposed       INTEGER NOT NULL,
    list_order    INTEGER NOT NULL,
    group_name    TEXT NOT NULL,
    keywords      TEXT NOT NULL,
    description   TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);

CREATE TABLE open311_request (
    report_id    TEXT PRIMARY KEY REFERENCES case_report (id),
    case_id      TEXT NOT NULL REFERENCES case_file (id),
    service_code TEXT NOT NULL,
    attributes   TEXT NOT NULL,
    media_urls   TEXT NOT NULL,
    api_key_id   TEXT NOT NULL,
    at_us        INTEGER NOT NULL
);
CREATE INDEX open311_request_case ON open311_request (case_id);

CREATE TABLE open311_update (
    api_key_id  TEXT NOT NULL,
    update_id   TEXT NOT NULL,
    case_id     TEXT NOT NULL REFERENCES case_file (id),
    event_id    TEXT NOT NULL REFERENCES case_event (id),
    at_us       INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, update_id)
);

CREATE INDEX case_file_reported ON case_file (reported_at_us);
CREATE INDEX case_event_at ON case_event (at_us);
