-- Publications: what an agency has made public. Nothing reaches the public portal until an
-- analyst publishes it; each publication is a recorded event (who, when, which measures and
-- which years) and the newest one is what the portal shows. Rows are never changed: a new
-- publication replaces the old one as the newest, and the history stays.
CREATE TABLE publications (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    id           INTEGER NOT NULL,
    published_at INTEGER NOT NULL,
    published_by INTEGER,
    -- Measure ids, one per line (e.g. "stops.search_rate").
    measures     TEXT NOT NULL,
    -- Years, one per line ("2017"); empty for measures that have no year.
    years        TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, published_by) REFERENCES users (agency_id, id)
);
