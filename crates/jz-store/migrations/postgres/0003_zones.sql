-- Zones (功能区) and their goal clusters (目标簇) (PostgreSQL dialect).
-- A zone type carries a goal cluster; a zone may override it. Goal clusters are JSON arrays of
-- {indicator, weight, target}, validated by the domain before they are written. Every change of
-- a goal cluster is in the audit log (subject_kind 'goal_cluster'), which is its history.

CREATE TABLE zone_type (
    code        TEXT PRIMARY KEY,
    name_zh     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    built_in    BIGINT NOT NULL,
    goals       TEXT NOT NULL,
    version     BIGINT NOT NULL
);

CREATE TABLE zone (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    zone_type   TEXT NOT NULL REFERENCES zone_type (code),
    geometry    TEXT,
    grid_codes  TEXT,
    goals       TEXT,
    version     BIGINT NOT NULL,
    created_at_us BIGINT NOT NULL,
    CHECK ((geometry IS NULL) <> (grid_codes IS NULL))
);
CREATE INDEX zone_type_of ON zone (zone_type);
