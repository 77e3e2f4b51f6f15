-- The city model: divisions (city, district, street, community) and unit grids (SQLite dialect).
-- Geometry is GeoJSON geometry text in WGS-84 lon/lat; a grid whose geometry is NULL is exactly
-- its bounding box (most cells are whole squares).

CREATE TABLE division (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('city', 'district', 'street', 'community')),
    parent_code   TEXT REFERENCES division (code),
    generated     INTEGER NOT NULL,
    weight        REAL NOT NULL,
    geometry      TEXT,
    area_m2       REAL,
    centroid_lon  REAL,
    centroid_lat  REAL,
    min_lon       REAL,
    min_lat       REAL,
    max_lon       REAL,
    max_lat       REAL,
    datum         TEXT NOT NULL,
    source        TEXT NOT NULL
);
CREATE INDEX division_parent ON division (parent_code);
CREATE INDEX division_level ON division (level);

CREATE TABLE grid (
    code            TEXT PRIMARY KEY,
    community_code  TEXT NOT NULL REFERENCES division (code),
    seq             INTEGER NOT NULL,
    generated       INTEGER NOT NULL,
    geometry        TEXT,
    area_m2         REAL NOT NULL,
    centroid_lon    REAL NOT NULL,
    centroid_lat    REAL NOT NULL,
    min_lon         REAL NOT NULL,
    min_lat         REAL NOT NULL,
    max_lon         REAL NOT NULL,
    max_lat         REAL NOT NULL,
    cell_size_m     REAL NOT NULL,
    neighbours      TEXT NOT NULL,
    datum           TEXT NOT NULL
);
CREATE INDEX grid_community ON grid (community_code);
