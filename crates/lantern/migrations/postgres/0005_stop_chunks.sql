-- Stops are stored in chunks of up to 65,536 stops of one import, column by column (see
-- src/transparency/chunks.rs), instead of a row per stop: nothing reads stops one at a time,
-- and a row per stop with its unique key index made an import of a million stops take 20 s.
--
-- stops  how many stops the chunk holds;
-- keys   their row keys, 16 bytes each in row order (the re-import check loads them);
-- data   the columns, encoded as format says (1: postcard, LZ4-compressed).
CREATE TABLE stop_chunks (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    import_id BIGINT NOT NULL,
    chunk     BIGINT NOT NULL,
    format    BIGINT NOT NULL,
    stops     BIGINT NOT NULL,
    keys      BYTEA NOT NULL,
    data      BYTEA NOT NULL,
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
    agency_id    BIGINT NOT NULL REFERENCES agencies (id),
    year         TEXT NOT NULL,
    district     TEXT NOT NULL,
    stop_type    TEXT NOT NULL,
    subject_race TEXT NOT NULL,
    minutes      BYTEA NOT NULL,
    days         BYTEA NOT NULL,
    PRIMARY KEY (agency_id, year, district, stop_type, subject_race)
);

CREATE TABLE stop_dusk (
    agency_id   BIGINT NOT NULL REFERENCES agencies (id),
    stop_date   TEXT NOT NULL,
    dusk_minute BIGINT NOT NULL,
    PRIMARY KEY (agency_id, stop_date)
);

-- Stops written by earlier versions are in the row table, which this drops, with the store
-- that counted them: their imports are marked failed with a note to import the file again.
UPDATE stop_imports
SET status = 'failed',
    report = '{"failure":"stored by an earlier version of Lantern, whose stop table this version replaced; import the file again"}'
WHERE status = 'done' AND rows_inserted > 0;
DROP TABLE stops;
DROP TABLE stop_days;
DROP TABLE stop_minutes;

DELETE FROM stop_cells;
