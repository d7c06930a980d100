-- Transparency: stop records imported from the agency's systems (Stanford Open Policing
-- Project schema, or another schema through a column-mapping file), the imports themselves
-- with their validation reports, and the analysis store the import keeps current.
--
-- Dates are TEXT 'YYYY-MM-DD' and clock times TEXT 'HH:MM:SS' in the agency's local time, as
-- the source records them; stop_minute is the same time as minutes since local midnight
-- (seconds dropped). sunset_minute and dusk_minute are that date's sun times at the agency's
-- centre point on the same clock (suncalc), computed at import for the veil-of-darkness test.
-- Booleans are NULL when the source did not say.

CREATE TABLE stop_imports (
    id            INTEGER PRIMARY KEY,
    agency_id     INTEGER NOT NULL REFERENCES agencies (id),
    file_name     TEXT NOT NULL,
    format        TEXT NOT NULL,
    sha256        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    skip_invalid  INTEGER NOT NULL DEFAULT 0,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    rows_inserted INTEGER NOT NULL DEFAULT 0,
    rows_duplicate INTEGER NOT NULL DEFAULT 0,
    rows_invalid  INTEGER NOT NULL DEFAULT 0,
    report        TEXT NOT NULL DEFAULT '',
    created_by    INTEGER,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    UNIQUE (agency_id, id),
    FOREIGN KEY (agency_id, created_by) REFERENCES users (agency_id, id)
);

-- One row per stop and subject. row_key makes re-imports idempotent: the source's own row id
-- when it has one, else a hash of the normalised record and its occurrence number in the file.
-- Nothing references a stop, so SQLite keeps only the rowid key here (an extra UNIQUE index
-- would slow every import); PostgreSQL keys it by (agency_id, id) as everywhere else.
CREATE TABLE stops (
    id               INTEGER PRIMARY KEY,
    agency_id        INTEGER NOT NULL REFERENCES agencies (id),
    import_id        INTEGER NOT NULL,
    row_key          TEXT NOT NULL,
    stop_date        TEXT NOT NULL,
    stop_time        TEXT,
    stop_minute      INTEGER,
    sunset_minute    INTEGER,
    dusk_minute      INTEGER,
    location         TEXT,
    lat              REAL,
    lng              REAL,
    district         TEXT,
    subject_race     TEXT,
    subject_sex      TEXT,
    subject_age      INTEGER,
    officer_id       TEXT,
    stop_type        TEXT,
    reason_for_stop  TEXT,
    outcome          TEXT,
    arrest_made      INTEGER,
    citation_issued  INTEGER,
    warning_issued   INTEGER,
    frisk_performed  INTEGER,
    search_conducted INTEGER,
    search_basis     TEXT,
    contraband_found INTEGER,
    FOREIGN KEY (agency_id, import_id) REFERENCES stop_imports (agency_id, id)
);
CREATE UNIQUE INDEX stops_row_key ON stops (agency_id, row_key);

-- The analysis store, added to by each import in the same transaction as its stops, so pages
-- and the API never scan the stops:
--   stop_cells    counts by month, district, stop type, race, sex and age group;
--   stop_days     stops with a clock time per date (and district, type, race), with that
--                 date's dusk: the veil-of-darkness window is the range of dusk over the dates;
--   stop_minutes  stops by minute of the day, year, district, type, race and light (0 light,
--                 1 dark; stops in the twilight between sunset and dusk are not counted).
-- Discretionary searches are those whose basis is not 'other' (SOPP's code for searches
-- incident to arrest, inventories and warrants); a search of unrecorded basis counts as one.
-- subject_sex and age_group are '' when the record did not say.
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
);

CREATE TABLE stop_days (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    stop_date    TEXT NOT NULL,
    district     TEXT NOT NULL,
    stop_type    TEXT NOT NULL,
    subject_race TEXT NOT NULL,
    dusk_minute  INTEGER NOT NULL,
    stops        INTEGER NOT NULL,
    PRIMARY KEY (agency_id, stop_date, district, stop_type, subject_race)
);

CREATE TABLE stop_minutes (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    stop_minute  INTEGER NOT NULL,
    year         TEXT NOT NULL,
    district     TEXT NOT NULL,
    stop_type    TEXT NOT NULL,
    subject_race TEXT NOT NULL,
    is_dark      INTEGER NOT NULL,
    stops        INTEGER NOT NULL,
    PRIMARY KEY (agency_id, stop_minute, year, district, stop_type, subject_race, is_dark)
);
