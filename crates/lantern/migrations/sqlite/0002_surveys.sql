-- Surveys: definitions and their frozen versions, responses, the anonymous employee
-- responses, post-contact contacts and invitations, opt-outs, employee invitations.

CREATE TABLE surveys (
    id               INTEGER PRIMARY KEY,
    agency_id        INTEGER NOT NULL REFERENCES agencies (id),
    kind             TEXT NOT NULL CHECK (kind IN ('community', 'post_contact', 'officer_card', 'employee')),
    name             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed')),
    -- The definition being edited (JSON); publishing freezes a copy as a new version.
    draft            TEXT NOT NULL,
    current_version  INTEGER,
    -- The short random code in public links: /{agency}/s/{code}.
    public_code      TEXT NOT NULL,
    one_per_device   INTEGER NOT NULL DEFAULT 0,
    publish_results  INTEGER NOT NULL DEFAULT 0,
    -- Bumped when responses change status (flag reviews), so cached results are rebuilt.
    results_epoch    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, public_code)
);

CREATE TABLE survey_versions (
    id           INTEGER PRIMARY KEY,
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    survey_id    INTEGER NOT NULL,
    number       INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, survey_id, number),
    FOREIGN KEY (agency_id, survey_id) REFERENCES surveys (agency_id, id)
);

-- Post-contact: contact events from CAD/RMS. Phone and e-mail are erased after the retention
-- period (purged_at set); contact_key (a keyed hash of them) stays for the 90-day rule.
CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    agency_id       INTEGER NOT NULL REFERENCES agencies (id),
    incident_number TEXT NOT NULL,
    occurred_at     INTEGER NOT NULL,
    call_type       TEXT NOT NULL,
    district        TEXT NOT NULL DEFAULT '',
    officer_badge   TEXT NOT NULL DEFAULT '',
    phone           TEXT,
    email           TEXT,
    language        TEXT NOT NULL DEFAULT 'en',
    contact_key     TEXT NOT NULL,
    excluded_reason TEXT,
    created_at      INTEGER NOT NULL,
    purged_at       INTEGER,
    UNIQUE (agency_id, id),
    UNIQUE (agency_id, incident_number, contact_key)
);
CREATE INDEX contacts_key ON contacts (agency_id, contact_key, occurred_at);

-- Single-use invitations to post-contact surveys. Only a hash of the token is kept.
CREATE TABLE invitations (
    id           INTEGER PRIMARY KEY,
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    survey_id    INTEGER NOT NULL,
    contact_id   INTEGER NOT NULL,
    token_hash   TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sent', 'responded', 'expired', 'opted_out', 'failed')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    reminded_at  INTEGER,
    responded_at INTEGER,
    error        TEXT,
    UNIQUE (agency_id, token_hash),
    UNIQUE (agency_id, id),
    FOREIGN KEY (agency_id, survey_id) REFERENCES surveys (agency_id, id),
    FOREIGN KEY (agency_id, contact_id) REFERENCES contacts (agency_id, id)
);
CREATE INDEX invitations_status ON invitations (agency_id, status, created_at);

CREATE TABLE opt_outs (
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    contact_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (agency_id, contact_key)
);

-- Responses to community, post-contact and officer-card surveys. source_hash is a keyed,
-- daily-rotated hash of the client address (for rate limits and duplicate bursts), never the
-- address itself.
CREATE TABLE responses (
    id            INTEGER PRIMARY KEY,
    agency_id     INTEGER NOT NULL REFERENCES agencies (id),
    survey_id     INTEGER NOT NULL,
    version_id    INTEGER NOT NULL,
    submitted_at  INTEGER NOT NULL,
    channel       TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'flagged', 'rejected')),
    flag_reason   TEXT,
    contact_id    INTEGER,
    officer_id    INTEGER,
    source_hash   TEXT,
    answers       TEXT NOT NULL,
    UNIQUE (agency_id, id),
    FOREIGN KEY (agency_id, survey_id) REFERENCES surveys (agency_id, id),
    FOREIGN KEY (agency_id, version_id) REFERENCES survey_versions (agency_id, id),
    FOREIGN KEY (agency_id, contact_id) REFERENCES contacts (agency_id, id),
    FOREIGN KEY (agency_id, officer_id) REFERENCES officers (agency_id, id)
);
CREATE INDEX responses_survey ON responses (agency_id, survey_id, id);
CREATE INDEX responses_flagged ON responses (agency_id, survey_id, status);
CREATE INDEX responses_source ON responses (agency_id, survey_id, source_hash, submitted_at);
CREATE INDEX responses_time ON responses (agency_id, submitted_at);

-- Employee responses are anonymous by construction: no sequential id (the key is random, so
-- the order of rows says nothing about the order of submission), no link to the invitation
-- or the account, no address, and only the day of submission.
CREATE TABLE employee_responses (
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    survey_id   INTEGER NOT NULL,
    token       TEXT NOT NULL,
    version_id  INTEGER NOT NULL,
    day         TEXT NOT NULL,
    language    TEXT NOT NULL,
    answers     TEXT NOT NULL,
    PRIMARY KEY (agency_id, survey_id, token),
    FOREIGN KEY (agency_id, survey_id) REFERENCES surveys (agency_id, id),
    FOREIGN KEY (agency_id, version_id) REFERENCES survey_versions (agency_id, id)
);

-- Who was invited to an employee survey, and whether they responded: kept apart from the
-- answers, with no time of response.
CREATE TABLE employee_invitations (
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    survey_id   INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    invited_at  INTEGER NOT NULL,
    reminded_at INTEGER,
    responded   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, survey_id, user_id),
    FOREIGN KEY (agency_id, survey_id) REFERENCES surveys (agency_id, id),
    FOREIGN KEY (agency_id, user_id) REFERENCES users (agency_id, id)
);
