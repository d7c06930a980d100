-- Platform: the deployment, agencies, accounts, sessions, audit chain, API tokens, and the
-- agency reference data every capability uses (districts, population, units, officers).
--
-- Times are INTEGER seconds since the Unix epoch (UTC); calendar dates are TEXT 'YYYY-MM-DD'.
-- Every agency-owned table carries agency_id, and UNIQUE (agency_id, id) lets child rows
-- reference their parent together with the agency, so a row can never point across agencies.

CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE agencies (
    id                   INTEGER PRIMARY KEY,
    slug                 TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    latitude             REAL,
    longitude            REAL,
    about_en             TEXT NOT NULL DEFAULT '',
    about_es             TEXT NOT NULL DEFAULT '',
    contact_email        TEXT NOT NULL DEFAULT '',
    contact_phone        TEXT NOT NULL DEFAULT '',
    address              TEXT NOT NULL DEFAULT '',
    website              TEXT NOT NULL DEFAULT '',
    mfa_required         INTEGER NOT NULL DEFAULT 1,
    small_cell_threshold INTEGER NOT NULL DEFAULT 10 CHECK (small_cell_threshold >= 1),
    anonymity_threshold  INTEGER NOT NULL DEFAULT 5 CHECK (anonymity_threshold >= 3),
    created_at           INTEGER NOT NULL
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    agency_id           INTEGER NOT NULL REFERENCES agencies (id),
    username            TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    email               TEXT NOT NULL DEFAULT '',
    role                TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'supervisor', 'investigator', 'oversight', 'staff')),
    password_hash       TEXT NOT NULL,
    totp_secret         TEXT,
    totp_last_step      INTEGER,
    mfa_enabled         INTEGER NOT NULL DEFAULT 0,
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    locked_until        INTEGER,
    active              INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    last_sign_in_at     INTEGER,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, username)
);

-- Sign-in sessions. Deployment-level (the cookie arrives before we know whose it is); the
-- agency and user are copied out of the session data so all of a user's sessions can be ended.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    agency_id  INTEGER,
    user_id    INTEGER,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (agency_id, user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The audit chain: append-only, one chain per agency. hash = SHA-256 over prev_hash and the
-- row's own content; audit_heads holds the latest (seq, hash) so a deleted tail shows too.
CREATE TABLE audit_log (
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    ip          TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (agency_id, seq)
);
CREATE INDEX audit_log_action ON audit_log (agency_id, action, seq);

CREATE TABLE audit_heads (
    agency_id INTEGER PRIMARY KEY REFERENCES agencies (id),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
);

-- Appending is the only way in: these triggers stop accidental edits. The hash chain is what
-- catches deliberate ones (whoever can drop a trigger can also edit a row).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'supervisor', 'investigator', 'oversight', 'staff')),
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    UNIQUE (agency_id, id),
    FOREIGN KEY (agency_id, created_by) REFERENCES users (agency_id, id)
);

CREATE TABLE districts (
    id        INTEGER PRIMARY KEY,
    agency_id INTEGER NOT NULL REFERENCES agencies (id),
    code      TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, code)
);

-- Census margins used as benchmarks and raking targets. geography is 'agency' or a district
-- code; dimension is race, sex or age_group.
CREATE TABLE population_margins (
    agency_id  INTEGER NOT NULL REFERENCES agencies (id),
    geography  TEXT NOT NULL,
    dimension  TEXT NOT NULL CHECK (dimension IN ('race', 'sex', 'age_group')),
    category   TEXT NOT NULL,
    population INTEGER NOT NULL CHECK (population >= 0),
    source     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agency_id, geography, dimension, category)
);

CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    district_id INTEGER,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, name),
    FOREIGN KEY (agency_id, district_id) REFERENCES districts (agency_id, id)
);

CREATE TABLE officers (
    id         INTEGER PRIMARY KEY,
    agency_id  INTEGER NOT NULL REFERENCES agencies (id),
    badge      TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    rank       TEXT NOT NULL,
    sex        TEXT NOT NULL DEFAULT '',
    race       TEXT NOT NULL DEFAULT '',
    hire_date  TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    user_id    INTEGER,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, badge),
    FOREIGN KEY (agency_id, user_id) REFERENCES users (agency_id, id)
);

CREATE TABLE officer_assignments (
    id         INTEGER PRIMARY KEY,
    agency_id  INTEGER NOT NULL REFERENCES agencies (id),
    officer_id INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,
    start_date TEXT NOT NULL,
    end_date   TEXT,
    UNIQUE (agency_id, id),
    FOREIGN KEY (agency_id, officer_id) REFERENCES officers (agency_id, id),
    FOREIGN KEY (agency_id, unit_id) REFERENCES units (agency_id, id)
);
CREATE INDEX officer_assignments_officer ON officer_assignments (agency_id, officer_id);
