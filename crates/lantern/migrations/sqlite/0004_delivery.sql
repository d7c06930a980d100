-- Post-contact delivery: which survey a contact event was imported for, a lease that keeps two
-- delivery passes from sending the same message, one invitation per contact and survey, and
-- the agency's delivery settings (defaults apply while an agency has no row).

ALTER TABLE contacts ADD COLUMN survey_id INTEGER;
CREATE INDEX contacts_survey ON contacts (agency_id, survey_id, id);
CREATE INDEX contacts_retention ON contacts (agency_id, purged_at, created_at);

ALTER TABLE invitations ADD COLUMN claimed_at INTEGER;
CREATE UNIQUE INDEX invitations_contact ON invitations (agency_id, survey_id, contact_id);
CREATE INDEX invitations_survey ON invitations (agency_id, survey_id, status);

CREATE TABLE delivery_settings (
    agency_id           INTEGER PRIMARY KEY REFERENCES agencies (id),
    -- Call types never invited, one per line, compared without regard to case.
    excluded_call_types TEXT NOT NULL,
    expiry_days         INTEGER NOT NULL CHECK (expiry_days >= 1),
    -- 0: no reminder.
    reminder_days       INTEGER NOT NULL CHECK (reminder_days >= 0),
    retention_days      INTEGER NOT NULL CHECK (retention_days >= 1),
    dedupe_days         INTEGER NOT NULL CHECK (dedupe_days >= 0),
    updated_at          INTEGER NOT NULL
);
