-- Publications: what an agency has made public (see the SQLite migration for the notes).
CREATE TABLE publications (
    agency_id    BIGINT NOT NULL REFERENCES agencies (id),
    id           BIGINT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by BIGINT,
    measures     TEXT NOT NULL,
    years        TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, published_by) REFERENCES users (agency_id, id)
);
