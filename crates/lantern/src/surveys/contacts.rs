//! Post-contact intake: contact events from a CAD/RMS export, uploaded as CSV on the survey's
//! contacts page or sent to `POST /api/v1/contacts`, become single-use invitations.
//!
//! Every value is checked before anything is written, and a file with one bad value is
//! refused whole with the line and column (or the JSON index and field) of each problem. A
//! contact event is stored once per incident and person (`contact_key`, a keyed hash of the
//! normalised e-mail address or phone number), so importing the same export twice adds
//! nothing. Each new event then either gets an invitation or records why not: an excluded
//! call type, no address, an earlier opt-out, or an invitation to the same person within the
//! agency's dedupe window. Phone and e-mail are kept only for events that are invited; the
//! others never store them. Sending is the delivery worker's job (`delivery.rs`).

use chrono::{DateTime, NaiveDateTime, TimeZone};
use serde::Serialize;
use utoipa::ToSchema;

use super::delivery::Settings;
use super::links;
use super::store::Survey;
use crate::on_tx;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, Tx};
use crate::platform::error::FieldError;
use crate::platform::secrets::{Key, sha256_hex};
use crate::web::i18n::Lang;

/// Most contact events one upload or API call may carry.
pub const MAX_EVENTS: usize = 50_000;
/// Problems listed before "and N more".
const MAX_PROBLEMS: usize = 20;

/// One contact event, checked and normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactEvent {
    pub incident_number: String,
    /// Seconds since the epoch.
    pub occurred_at: i64,
    pub call_type: String,
    pub district: String,
    pub officer_badge: String,
    /// E.164: `+` and up to 15 digits.
    pub phone: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    pub language: Lang,
}

impl ContactEvent {
    /// The channel an invitation would use: e-mail when there is an address, else SMS.
    pub fn channel(&self) -> Option<&'static str> {
        if self.email.is_some() {
            Some("email")
        } else if self.phone.is_some() {
            Some("sms")
        } else {
            None
        }
    }
}

/// The fields of a contact event as given, before checking.
#[derive(Clone, Debug, Default)]
pub struct RawContact {
    pub incident_number: String,
    pub occurred_at: String,
    pub call_type: String,
    pub district: String,
    pub officer: String,
    pub phone: String,
    pub email: String,
    pub language: String,
}

/// The input's field names, as CSV headers and JSON keys.
pub const FIELDS: [&str; 8] = [
    "incident_number",
    "occurred_at",
    "call_type",
    "district",
    "officer",
    "phone",
    "email",
    "language",
];
const REQUIRED: [&str; 3] = ["incident_number", "occurred_at", "call_type"];

impl RawContact {
    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "incident_number" => &mut self.incident_number,
            "occurred_at" => &mut self.occurred_at,
            "call_type" => &mut self.call_type,
            "district" => &mut self.district,
            "officer" => &mut self.officer,
            "phone" => &mut self.phone,
            "email" => &mut self.email,
            "language" => &mut self.language,
            _ => return None,
        })
    }

    /// Checks and normalises; on failure, each bad field with what is wrong with it.
    pub fn check(
        &self,
        tz: chrono_tz::Tz,
        now: i64,
    ) -> Result<ContactEvent, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let mut text = |field: &'static str, value: &str, max: usize, required: bool| {
            let v = value.trim();
            if required && v.is_empty() {
                problems.push((field, "is required".to_string()));
            } else if v.chars().count() > max {
                problems.push((field, format!("must be at most {max} characters")));
            } else if v.chars().any(char::is_control) {
                problems.push((field, "contains control characters".to_string()));
            }
            v.to_string()
        };
        let incident_number = text("incident_number", &self.incident_number, 64, true);
        let call_type = text("call_type", &self.call_type, 120, true);
        let district = text("district", &self.district, 64, false);
        let officer_badge = text("officer", &self.officer, 32, false);
        let occurred_at = match parse_time(&self.occurred_at, tz) {
            Ok(t) if t > now + 86_400 => {
                problems.push((
                    "occurred_at",
                    format!("{:?} is in the future", self.occurred_at.trim()),
                ));
                0
            }
            Ok(t) => t,
            Err(e) => {
                problems.push(("occurred_at", e));
                0
            }
        };
        let phone = match self.phone.trim() {
            "" => None,
            p => match normalize_phone(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(("phone", e));
                    None
                }
            },
        };
        let email = match self.email.trim() {
            "" => None,
            e => match normalize_email(e) {
                Ok(e) => Some(e),
                Err(e) => {
                    problems.push(("email", e));
                    None
                }
            },
        };
        let language = match parse_language(&self.language) {
            Ok(l) => l,
            Err(e) => {
                problems.push(("language", e));
                Lang::En
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ContactEvent {
            incident_number,
            occurred_at,
            call_type,
            district,
            officer_badge,
            phone,
            email,
            language,
        })
    }
}

/// `2026-05-31T14:05:00-05:00` (RFC 3339, any offset), or a time on the agency's clock:
/// `2026-05-31 14:05`, `2026-05-31 14:05:09`, `2026-05-31T14:05`.
pub fn parse_time(raw: &str, tz: chrono_tz::Tz) -> Result<i64, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("is required".into());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    for format in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, format) {
            // A time skipped by the spring change does not exist; one repeated in the autumn
            // is taken the first time.
            return tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.timestamp())
                .ok_or_else(|| format!("{s:?} does not exist in {tz} (clocks moved forward)"));
        }
    }
    Err(format!(
        "{s:?} is not a date and time: use 2026-05-31 14:05 (the agency's clock) or 2026-05-31T14:05:00-05:00"
    ))
}

/// A phone number as E.164 (`+15155550123`). Ten digits, or eleven starting with 1, are taken
/// as North American; other countries need their `+` code.
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let plus = s.starts_with('+');
    let mut digits = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '(' | ')' | '.' | '/' | '\u{a0}' => {}
            _ => {
                return Err(format!(
                    "{s:?} is not a phone number (digits only, e.g. 515-555-0123)"
                ));
            }
        }
    }
    let international = if plus {
        digits
    } else if digits.len() == 10 {
        format!("1{digits}")
    } else if digits.len() == 11 && digits.starts_with('1') {
        digits
    } else {
        return Err(format!(
            "{s:?} is not a 10-digit number; numbers outside North America need their country code, e.g. +52 55 1234 5678"
        ));
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(format!("{s:?} is not a phone number"));
    }
    // North American area codes and exchanges never start with 0 or 1.
    if let Some(rest) = international.strip_prefix('1')
        && rest.len() == 10
        && (rest.starts_with(['0', '1']) || rest[3..].starts_with(['0', '1']))
    {
        return Err(format!("{s:?} is not a valid North American number"));
    }
    Ok(format!("+{international}"))
}

pub fn normalize_email(raw: &str) -> Result<String, String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254
        || !crate::platform::accounts::looks_like_email(&e)
        || e.contains(['<', '>', ',', ';', '"'])
    {
        return Err(format!("{:?} is not an e-mail address", raw.trim()));
    }
    Ok(e)
}

pub fn parse_language(raw: &str) -> Result<Lang, String> {
    match raw.trim().to_lowercase().as_str() {
        "" | "en" | "eng" | "english" | "en-us" => Ok(Lang::En),
        "es" | "spa" | "spanish" | "español" | "espanol" | "es-us" | "es-mx" => Ok(Lang::Es),
        other => Err(format!(
            "{other:?} is not a supported language: use en or es"
        )),
    }
}

/// The person behind a contact, as a keyed hash that outlives the address itself: the 90-day
/// rule and opt-outs still work after phone and e-mail are erased.
pub fn contact_key(key: &Key, event: &ContactEvent) -> String {
    let who = match (&event.email, &event.phone) {
        (Some(e), _) => format!("email:{e}"),
        (None, Some(p)) => format!("phone:{p}"),
        (None, None) => format!("none:{}", event.incident_number),
    };
    key.sign("contact", who.as_bytes())
}

/// Why an input was refused: each problem with its place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusal {
    pub problems: Vec<FieldError>,
    /// Problems beyond those listed.
    pub more: usize,
}

impl Refusal {
    fn push(&mut self, field: String, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(FieldError::new(field, message));
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line per problem, for pages and the command line.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        if self.more > 0 {
            out.push(format!("… and {} more problems", self.more));
        }
        out
    }
}

/// Reads a CSV export. Headers name the fields (any order, any case; `officer_badge` and
/// `badge` stand for `officer`); other columns are ignored and listed.
pub fn parse_csv(
    bytes: &[u8],
    tz: chrono_tz::Tz,
    now: i64,
) -> Result<(Vec<ContactEvent>, Vec<String>), Refusal> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut refusal = Refusal::default();
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            refusal.push(
                "line 1".into(),
                format!("the header row cannot be read: {e}"),
            );
            return Err(refusal);
        }
    };
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    let mut ignored = Vec::new();
    for h in headers.iter() {
        let name = h.trim().to_lowercase().replace([' ', '-'], "_");
        let field = match name.as_str() {
            "officer_badge" | "badge" => Some("officer"),
            n => FIELDS.iter().find(|f| **f == n).copied(),
        };
        if field.is_none() && !h.trim().is_empty() {
            ignored.push(h.trim().to_string());
        }
        columns.push(field);
    }
    for required in REQUIRED {
        if !columns.contains(&Some(required)) {
            refusal.push(
                "line 1".into(),
                format!(
                    "the column {required} is missing (the columns are {})",
                    FIELDS.join(", ")
                ),
            );
        }
    }
    if !refusal.is_empty() {
        return Err(refusal);
    }
    let mut events = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                refusal.push(format!("line {line}"), format!("cannot be read: {e}"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|v| v.is_empty()) {
            continue;
        }
        if record.len() > columns.len() {
            refusal.push(
                format!("line {line}"),
                format!(
                    "has {} values but the header has {} columns",
                    record.len(),
                    columns.len()
                ),
            );
            continue;
        }
        if events.len() + refusal.problems.len() >= MAX_EVENTS {
            refusal.push(
                format!("line {line}"),
                format!("a file may hold at most {MAX_EVENTS} contact events; split it"),
            );
            break;
        }
        let mut raw = RawContact::default();
        for (value, column) in record.iter().zip(&columns) {
            if let Some(slot) = column.and_then(|c| raw.field_mut(c)) {
                *slot = value.to_string();
            }
        }
        match raw.check(tz, now) {
            Ok(e) => events.push(e),
            Err(problems) => {
                for (field, message) in problems {
                    refusal.push(format!("line {line}, column {field}"), message);
                }
            }
        }
    }
    if refusal.is_empty() {
        Ok((events, ignored))
    } else {
        Err(refusal)
    }
}

/// Reads the API's JSON array of contact events. Problems are named `[index].field`.
pub fn parse_json(bytes: &[u8], tz: chrono_tz::Tz, now: i64) -> Result<Vec<ContactEvent>, Refusal> {
    let mut refusal = Refusal::default();
    let items: Vec<serde_json::Value> = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => {
            refusal.push(
                "body".into(),
                "must be a JSON array of contact events".into(),
            );
            return Err(refusal);
        }
        Err(e) => {
            refusal.push("body".into(), format!("is not valid JSON: {e}"));
            return Err(refusal);
        }
    };
    if items.len() > MAX_EVENTS {
        refusal.push(
            "body".into(),
            format!("at most {MAX_EVENTS} contact events per request"),
        );
        return Err(refusal);
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let serde_json::Value::Object(map) = item else {
            refusal.push(format!("[{i}]"), "must be an object".into());
            continue;
        };
        let mut raw = RawContact::default();
        let mut ok = true;
        for (k, v) in map {
            let name = if k == "officer_badge" {
                "officer"
            } else {
                k.as_str()
            };
            let Some(slot) = raw.field_mut(name) else {
                refusal.push(
                    format!("[{i}].{k}"),
                    format!("is not a field of a contact event ({})", FIELDS.join(", ")),
                );
                ok = false;
                continue;
            };
            match v {
                serde_json::Value::String(s) => *slot = s.clone(),
                serde_json::Value::Null => {}
                // Incident numbers and badges are often numbers in exports.
                serde_json::Value::Number(n) if name != "occurred_at" => *slot = n.to_string(),
                _ => {
                    refusal.push(format!("[{i}].{k}"), "must be a string".into());
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        match raw.check(tz, now) {
            Ok(e) => events.push(e),
            Err(problems) => {
                for (field, message) in problems {
                    refusal.push(format!("[{i}].{field}"), message);
                }
            }
        }
    }
    if refusal.is_empty() {
        Ok(events)
    } else {
        Err(refusal)
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Contact events in the input.
    pub received: u64,
    /// Events stored now.
    pub added: u64,
    /// Events already stored by an earlier import (same incident and person): skipped.
    pub already_present: u64,
    /// New invitations, waiting to be sent.
    pub invited: u64,
    /// Not invited: the call type is excluded (sensitive calls).
    pub excluded_call_type: u64,
    /// Not invited: the person opted out earlier.
    pub opted_out: u64,
    /// Not invited: the same person was invited within the agency's dedupe window.
    pub recently_invited: u64,
    /// Not invited: neither phone nor e-mail.
    pub no_address: u64,
}

/// Why a contact event was not invited, as stored in `contacts.excluded_reason`.
pub const REASONS: [(&str, &str); 4] = [
    ("call_type", "Excluded call type"),
    ("dedupe", "Invited recently (dedupe window)"),
    ("opted_out", "Opted out earlier"),
    ("no_address", "No phone or e-mail"),
];

/// Stores contact events for a survey and creates their invitations, in one transaction with
/// the audit entry. `source` says where they came from (a file name, `api`).
#[allow(clippy::too_many_arguments)]
pub async fn import(
    db: &Db,
    key: &Key,
    survey: &Survey,
    settings: &Settings,
    mut events: Vec<ContactEvent>,
    source: &str,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<ImportSummary, sqlx::Error> {
    let agency_id = survey.agency_id;
    // The earliest contact of a person gets the invitation when a file holds several.
    events.sort_by_key(|e| e.occurred_at);
    let mut summary = ImportSummary {
        received: events.len() as u64,
        ..ImportSummary::default()
    };
    let mut tx = db.begin().await?;
    for event in &events {
        let ck = contact_key(key, event);
        let reason = if settings.excludes(&event.call_type) {
            Some("call_type")
        } else if event.channel().is_none() {
            Some("no_address")
        } else if opted_out(&mut tx, agency_id, &ck).await? {
            Some("opted_out")
        } else if settings.dedupe_days > 0
            && invited_since(&mut tx, agency_id, &ck, now - settings.dedupe_days * 86_400).await?
        {
            Some("dedupe")
        } else {
            None
        };
        // Addresses are kept only for the people who will get a message.
        let (phone, email, purged_at) = match reason {
            None => (event.phone.as_deref(), event.email.as_deref(), None),
            Some(_) => (None, None, Some(now)),
        };
        let inserted: Option<i64> = on_tx!(&mut tx, |c| {
            sqlx::query_scalar(
                "INSERT INTO contacts (agency_id, survey_id, incident_number, occurred_at, call_type, district, \
                 officer_badge, phone, email, language, contact_key, excluded_reason, created_at, purged_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (agency_id, incident_number, contact_key) DO NOTHING RETURNING id",
            )
            .bind(agency_id)
            .bind(survey.id)
            .bind(&event.incident_number)
            .bind(event.occurred_at)
            .bind(&event.call_type)
            .bind(&event.district)
            .bind(&event.officer_badge)
            .bind(phone)
            .bind(email)
            .bind(event.language.code())
            .bind(&ck)
            .bind(reason)
            .bind(now)
            .bind(purged_at)
            .fetch_optional(&mut **c)
            .await
        })?;
        let Some(contact_id) = inserted else {
            summary.already_present += 1;
            continue;
        };
        summary.added += 1;
        match reason {
            Some("call_type") => summary.excluded_call_type += 1,
            Some("no_address") => summary.no_address += 1,
            Some("opted_out") => summary.opted_out += 1,
            Some(_) => summary.recently_invited += 1,
            None => {
                let token = links::invitation_token(key, agency_id, survey.id, contact_id);
                on_tx!(&mut tx, |c| {
                    sqlx::query(
                        "INSERT INTO invitations (agency_id, survey_id, contact_id, token_hash, channel, status, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
                    )
                    .bind(agency_id)
                    .bind(survey.id)
                    .bind(contact_id)
                    .bind(sha256_hex(token.as_bytes()))
                    .bind(event.channel())
                    .bind(now)
                    // Moved on when the message goes out: the link lives its days from then.
                    .bind(now + settings.expiry_days * 86_400)
                    .execute(&mut **c)
                    .await
                    .map(|r| r.rows_affected())
                })?;
                summary.invited += 1;
            }
        }
    }
    audit::append(
        &mut tx,
        agency_id,
        now,
        &Event::new(actor, "contacts.imported", format!("survey:{}", survey.id))
            .detail(serde_json::json!({"source": source, "summary": summary}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}

async fn opted_out(tx: &mut Tx, agency_id: i64, contact_key: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT created_at FROM opt_outs WHERE agency_id = $1 AND contact_key = $2",
        )
        .bind(agency_id)
        .bind(contact_key)
        .fetch_optional(&mut **c)
        .await
    })?;
    Ok(found.is_some())
}

/// Whether this person got an invitation (to any survey) made at or after `since`.
async fn invited_since(
    tx: &mut Tx,
    agency_id: i64,
    contact_key: &str,
    since: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT i.id FROM invitations i JOIN contacts c ON c.agency_id = i.agency_id AND c.id = i.contact_id \
             WHERE c.agency_id = $1 AND c.contact_key = $2 AND i.created_at >= $3 LIMIT 1",
        )
        .bind(agency_id)
        .bind(contact_key)
        .bind(since)
        .fetch_optional(&mut **c)
        .await
    })?;
    Ok(found.is_some())
}

/// A phone number or e-mail address with most of it hidden, for staff pages.
pub fn mask(phone: Option<&str>, email: Option<&str>) -> String {
    match (email, phone) {
        (Some(e), _) => match e.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}•••@{domain}")
            }
            None => "•••".into(),
        },
        (None, Some(p)) => {
            let tail: String = p
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("•••-•••-{tail}")
        }
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;
    // 2026-06-01 12:00 UTC.
    const NOW: i64 = 1_780_315_200;

    #[test]
    fn phones_become_e164() {
        assert_eq!(normalize_phone("(515) 555-0123").unwrap(), "+15155550123");
        assert_eq!(normalize_phone("1-515-555-0123").unwrap(), "+15155550123");
        assert_eq!(
            normalize_phone("+52 55 1234 5678").unwrap(),
            "+525512345678"
        );
        assert!(normalize_phone("555-0123").is_err(), "too short");
        assert!(normalize_phone("515-555-0123 x12").is_err(), "extension");
        assert!(
            normalize_phone("(015) 555-0123").is_err(),
            "no such area code"
        );
        assert!(normalize_phone("+1234567890123456").is_err(), "too long");
    }

    #[test]
    fn emails_and_languages() {
        assert_eq!(
            normalize_email(" Ana@Example.ORG ").unwrap(),
            "ana@example.org"
        );
        assert!(normalize_email("ana@localhost").is_err());
        assert!(normalize_email("ana@example.org, bob@example.org").is_err());
        assert_eq!(parse_language("ES").unwrap(), Lang::Es);
        assert_eq!(parse_language("").unwrap(), Lang::En);
        assert!(parse_language("fr").is_err());
    }

    #[test]
    fn times_on_the_agency_clock_or_with_an_offset() {
        // 07:00 in Chicago (CDT) is 12:00 UTC.
        assert_eq!(parse_time("2026-06-01 07:00", TZ).unwrap(), NOW);
        assert_eq!(parse_time("2026-06-01T07:00:00", TZ).unwrap(), NOW);
        assert_eq!(parse_time("2026-06-01T12:00:00Z", TZ).unwrap(), NOW);
        assert_eq!(parse_time("2026-06-01T07:00:00-05:00", TZ).unwrap(), NOW);
        assert!(
            parse_time("2026-03-08 02:30", TZ)
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            parse_time("06/01/2026", TZ)
                .unwrap_err()
                .contains("not a date")
        );
    }

    #[test]
    fn csv_problems_name_line_and_column() {
        let csv = "Incident_Number,occurred_at,call_type,phone,email,notes\n\
                   P1,2026-05-30 10:00,Theft,515-555-0123,,x\n\
                   P2,yesterday,Theft,,ana@example.org,\n\
                   P3,2026-05-30 11:00,Theft,12,,\n";
        let refusal = parse_csv(csv.as_bytes(), TZ, NOW).unwrap_err();
        assert_eq!(
            refusal
                .problems
                .iter()
                .map(|p| p.field.as_str())
                .collect::<Vec<_>>(),
            ["line 3, column occurred_at", "line 4, column phone"]
        );
        let good = "incident_number,occurred_at,call_type,phone,notes\nP1,2026-05-30 10:00,Theft,515-555-0123,x\n";
        let (events, ignored) = parse_csv(good.as_bytes(), TZ, NOW).unwrap();
        assert_eq!(events[0].phone.as_deref(), Some("+15155550123"));
        assert_eq!(ignored, ["notes"]);
        let missing = parse_csv(b"incident_number,call_type\nP1,Theft\n", TZ, NOW).unwrap_err();
        assert!(missing.problems[0].message.contains("occurred_at"));
    }

    #[test]
    fn json_problems_name_index_and_field() {
        let body = br#"[{"incident_number": 17, "occurred_at": "2026-05-30 10:00", "call_type": "Theft"},
                        {"incident_number": "P2", "occurred_at": "2026-05-30 10:00", "call_type": "Theft", "email": "nope"},
                        {"incident_number": "P3", "occurred_at": "2026-05-30 10:00", "call_type": "Theft", "phone_number": "1"}]"#;
        let refusal = parse_json(body, TZ, NOW).unwrap_err();
        assert_eq!(
            refusal
                .problems
                .iter()
                .map(|p| p.field.as_str())
                .collect::<Vec<_>>(),
            ["[1].email", "[2].phone_number"]
        );
        assert!(
            parse_json(b"{", TZ, NOW).unwrap_err().problems[0]
                .message
                .contains("not valid JSON")
        );
    }

    #[test]
    fn masks_hide_most_of_an_address() {
        assert_eq!(mask(None, Some("ana@example.org")), "a•••@example.org");
        assert_eq!(mask(Some("+15155550123"), None), "•••-•••-0123");
        assert_eq!(mask(None, None), "");
    }
}
