-- Stops are stored in chunks of up to 65,536 stops of one import, column by column (see
-- src/transparency/chunks.rs), instead of a row per stop: nothing reads stops one at a time,
-- and a row per stop with its unique key index made an import of a million stops take 20 s.
--
-- stops  how many stops the chunk holds;
-- keys   their row keys, 16 bytes each in row order (the re-import check loads them);
-- data   the columns, encoded as format says (1: postcard, LZ4-compressed).
CREATE TABLE stop_chunks (
    agency_id INTEGER NOT NULL REFERENCES agencies (id),
    import_id INTEGER NOT NULL,
    chunk     INTEGER NOT NULL,
    format    INTEGER NOT NULL,
    stops     INTEGER NOT NULL,
    keys      BLOB NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (agency_id, import_id, chunk),
    FOREIGN KEY (agency_id, import_id) REFERENCES stop_imports (agency_id, id)
);

-- The veil-of-darkness part of the analysis store, one row per year, district, stop type and
-- race instead of a row per minute (stop_minutes) and per date (stop_days), which made the
-- store almost half a row per stop:
--   stop_light.minutes  2,880 counts (4 bytes each, little-endian): stops at each minute of
--                       the day in daylight, then at each minute in darkness; stops in the
--                       twilight between sunset and dusk (both included) are not counted;
--   stop_light.days     366 counts: stops with a clock time on each day of the year
--                       (1 January first), on dates with sun times;
--   stop_dusk           each such date's dusk, minutes after local midnight.
CREATE TABLE stop_light (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    year         TEXT NOT NULL,
    district     TEXT NOT NULL,
    stop_type    TEXT NOT NULL,
    subject_race TEXT NOT NULL,
    minutes      BLOB NOT NULL,
    days         BLOB NOT NULL,
    PRIMARY KEY (agency_id, year, district, stop_type, subject_race)
);

CREATE TABLE stop_dusk (
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    stop_date   TEXT NOT NULL,
    dusk_minute INTEGER NOT NULL,
    PRIMARY KEY (agency_id, stop_date)
) WITHOUT ROWID;

-- Stops written by earlier versions are in the row table, which this drops, with the store
-- that counted them: their imports are marked failed with a note to import the file again.
UPDATE stop_imports
SET status = 'failed',
    report = '{"failure":"stored by an earlier version of Lantern, whose stop table this version replaced; import the file again"}'
WHERE status = 'done' AND rows_inserted > 0;
DROP TABLE stops;
DROP TABLE stop_days;
DROP TABLE stop_minutes;

-- The cells table again, as it was but WITHOUT ROWID: it is its primary key, so an import's
-- counts go into one B-tree instead of a table and its key index.
DROP TABLE stop_cells;
CREATE TABLE stop_cells (
    agency_id              INTEGER NOT NULL REFERENCES agencies (id),
    month                  TEXT NOT NULL,
    district               TEXT NOT NULL,
    stop_type              TEXT NOT NULL,
    subject_race           TEXT NOT NULL,
    subject_sex            TEXT NOT NULL,
    age_group              TEXT NOT NULL,
    stops                  INTEGER NOT NULL,
    searches               INTEGER NOT NULL,
    searches_with_outcome  INTEGER NOT NULL,
    hits                   INTEGER NOT NULL,
    discretionary_searches INTEGER NOT NULL,
    discretionary_hits     INTEGER NOT NULL,
    frisks                 INTEGER NOT NULL,
    arrests                INTEGER NOT NULL,
    citations              INTEGER NOT NULL,
    warnings               INTEGER NOT NULL,
    PRIMARY KEY (agency_id, month, district, stop_type, subject_race, subject_sex, age_group)
) WITHOUT ROWID;
