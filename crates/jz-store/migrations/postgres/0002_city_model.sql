-- The city model: divisions (city, district, street, community) and unit grids (PostgreSQL dialect).
-- Geometry is GeoJSON geometry text in WGS-84 lon/lat; a grid whose geometry is NULL is exactly
-- its bounding box (most cells are whole squares).

CREATE TABLE division (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('city', 'district', 'street', 'community')),
    parent_code   TEXT REFERENCES division (code),
    generated     BIGINT NOT NULL,
    weight        DOUBLE PRECISION NOT NULL,
    geometry      TEXT,
    area_m2       DOUBLE PRECISION,
    centroid_lon  DOUBLE PRECISION,
    centroid_lat  DOUBLE PRECISION,
    min_lon       DOUBLE PRECISION,
    min_lat       DOUBLE PRECISION,
    max_lon       DOUBLE PRECISION,
    max_lat       DOUBLE PRECISION,
    datum         TEXT NOT NULL,
    source        TEXT NOT NULL
);
CREATE INDEX division_parent ON division (parent_code);
CREATE INDEX division_level ON division (level);

CREATE TABLE grid (
    code            TEXT PRIMARY KEY,
    community_code  TEXT NOT NULL REFERENCES division (code),
    seq             BIGINT NOT NULL,
    generated       BIGINT NOT NULL,
    geometry        TEXT,
    area_m2         DOUBLE PRECISION NOT NULL,
    centroid_lon    DOUBLE PRECISION NOT NULL,
    centroid_lat    DOUBLE PRECISION NOT NULL,
    min_lon         DOUBLE PRECISION NOT NULL,
    min_lat         DOUBLE PRECISION NOT NULL,
    max_lon         DOUBLE PRECISION NOT NULL,
    max_lat         DOUBLE PRECISION NOT NULL,
    cell_size_m     DOUBLE PRECISION NOT NULL,
    neighbours      TEXT NOT NULL,
    datum           TEXT NOT NULL
);
CREATE INDEX grid_community ON grid (community_code);
