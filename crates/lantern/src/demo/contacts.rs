//! The demo agency's post-contact survey: a year of contact events as a CAD export would bring
//! them (call types, sensitive ones among them, districts, officers of the roster), the
//! invitations they led to (sent by e-mail or text, one reminder, answered, expired, a few
//! opted out or refused by the mail server) and the answers, each linked to its contact event
//! so results break down by call type and district.
//!
//! Known effects, for tests and for the results page to show: people stopped in traffic are
//! less satisfied than the rest, people helped after a crash or on a welfare check more, and
//! district D2 trails the others. Phone numbers and e-mail addresses (reserved example
//! addresses) are kept only for the contacts of the retention period, as the delivery worker
//! would have left them; nothing seeded is waiting to be sent.

use crate::platform::agencies::Agency;
use crate::platform::db::{Db, Tx};
use crate::platform::roster;
use crate::platform::secrets::{Key, sha256_hex};
use crate::surveys::contacts::{ContactEvent, contact_key};
use crate::surveys::delivery::Settings;
use crate::surveys::links;
use crate::surveys::model::{Answer, Answers};
use crate::surveys::store::Survey;
use crate::surveys::writer::{self, Link, NewResponse};
use crate::web::i18n::Lang;
use crate::{on_db, on_tx};

/// Contact events over the demo year.
pub const CONTACTS: usize = 3_000;
const DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// Call types with their share of contacts and how they move satisfaction (0–10 scale).
pub const CALL_TYPES: [(&str, f64, f64); 12] = [
    ("Traffic stop", 0.28, -1.3),
    ("Theft report", 0.12, 0.0),
    ("Disturbance", 0.10, -0.5),
    ("Welfare check", 0.08, 0.9),
    ("Suspicious person", 0.08, -0.3),
    ("Vehicle crash", 0.08, 0.7),
    ("Burglary", 0.06, 0.2),
    ("Noise complaint", 0.05, -0.2),
    ("Vandalism", 0.04, 0.0),
    ("Fraud", 0.03, 0.1),
    // Never invited (the agency's default exclusions).
    ("Domestic violence", 0.06, 0.0),
    ("Sexual assault", 0.02, 0.0),
];

/// How many of each kind the generator made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeededContacts {
    pub contacts: usize,
    pub excluded: usize,
    pub invited: usize,
    pub responses: usize,
}

fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick(rng: &mut fastrand::Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn district_shift(code: &str) -> f64 {
    match code {
        "D2" => -0.9,
        "D4" => -0.3,
        "D6" => 0.4,
        _ => 0.0,
    }
}

/// One generated contact event and what became of it.
struct Gen {
    event: ContactEvent,
    key: String,
    created_at: i64,
    reason: Option<&'static str>,
    shift: f64,
}

pub async fn seed(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    survey: &Survey,
    now: i64,
) -> anyhow::Result<SeededContacts> {
    let version = survey.current_version.expect("published");
    let key = Key::load_or_create(db).await?;
    let settings = Settings::default();
    let districts = roster::districts(db, agency.id).await?;
    let weights: Vec<f64> = districts.iter().map(|d| d.population as f64).collect();
    let badges: Vec<String> = roster::officers(db, agency.id)
        .await?
        .into_iter()
        .filter(|o| o.active)
        .map(|o| o.badge)
        .collect();
    let type_weights: Vec<f64> = CALL_TYPES.iter().map(|c| c.1).collect();

    let mut gens = Vec::with_capacity(CONTACTS);
    for n in 0..CONTACTS {
        let occurred_at = now - rng.i64(DAY / 2..DAYS * DAY);
        // The nightly CAD export brings yesterday's contacts.
        let created_at = (occurred_at + rng.i64(3_600..DAY)).min(now);
        let (call_type, _, type_shift) = CALL_TYPES[pick(rng, &type_weights)];
        let d = &districts[pick(rng, &weights)];
        let spanish = rng.f64() < 0.18;
        // Reserved addresses only: example.org, and the fictional 555-01xx numbers of five
        // Iowa area codes (so a number now and then belongs to someone seen before).
        let (phone, email) = match pick(rng, &[0.55, 0.33, 0.12]) {
            0 => (None, Some(format!("resident{n}@example.org"))),
            1 => {
                let area = ["515", "641", "319", "563", "712"][rng.usize(..5)];
                (Some(format!("+1{area}55501{:02}", rng.u32(..100))), None)
            }
            _ => (None, None),
        };
        let event = ContactEvent {
            incident_number: format!("RPD-{n:06}"),
            occurred_at,
            call_type: call_type.to_string(),
            district: d.code.clone(),
            officer_badge: badges[rng.usize(..badges.len())].clone(),
            phone,
            email,
            language: if spanish { Lang::Es } else { Lang::En },
        };
        let reason = if settings.excludes(call_type) {
            Some("call_type")
        } else if event.channel().is_none() {
            Some("no_address")
        } else if rng.f64() < 0.04 {
            Some("dedupe")
        } else {
            None
        };
        gens.push(Gen {
            key: contact_key(&key, &event),
            event,
            created_at,
            reason,
            shift: type_shift + district_shift(&d.code),
        });
    }
    gens.sort_by_key(|g| g.event.occurred_at);

    let mut tx = db.begin().await?;
    for chunk in gens.chunks(200) {
        insert_contacts(
            &mut tx,
            agency.id,
            survey.id,
            now,
            settings.retention_days,
            chunk,
        )
        .await?;
    }
    tx.commit().await?;
    let ids: Vec<(String, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT incident_number, id FROM contacts WHERE agency_id = $1 AND survey_id = $2",
        )
        .bind(agency.id)
        .bind(survey.id)
        .fetch_all(pool)
        .await
    })?;
    let ids: std::collections::HashMap<String, i64> = ids.into_iter().collect();

    let mut invitations = Vec::new();
    let mut responses = Vec::new();
    let mut opted_out = Vec::new();
    for g in gens.iter().filter(|g| g.reason.is_none()) {
        let contact_id = ids[&g.event.incident_number];
        let channel = g.event.channel().expect("invited contacts have an address");
        let sent_at = (g.created_at + rng.i64(60..3_600)).min(now);
        let expires_at = sent_at + settings.expiry_days * DAY;
        let mut inv = Inv {
            contact_id,
            token_hash: sha256_hex(
                links::invitation_token(&key, agency.id, survey.id, contact_id).as_bytes(),
            ),
            channel,
            status: "sent",
            created_at: g.created_at,
            expires_at,
            sent_at: Some(sent_at),
            reminded_at: None,
            responded_at: None,
            error: None,
        };
        let roll = rng.f64();
        let answer_rate = match (channel, g.event.language) {
            ("email", _) => 0.30,
            (_, Lang::Es) => 0.20,
            _ => 0.24,
        };
        if channel == "email" && roll < 0.012 {
            inv.status = "failed";
            inv.sent_at = None;
            inv.error =
                Some("the mail server refused it: 550 5.1.1 mailbox unavailable".to_string());
        } else if roll < 0.022 {
            inv.status = "opted_out";
            opted_out.push((g.key.clone(), sent_at + rng.i64(60..DAY)));
        } else {
            // Most answer on the first day; a second wave follows the reminder.
            let reminder_at = sent_at + settings.reminder_days * DAY;
            let answers = rng.f64() < answer_rate;
            let after_reminder = answers && rng.f64() < 0.3;
            let answered_at = if after_reminder {
                reminder_at + rng.i64(600..2 * DAY)
            } else {
                sent_at + (rng.f64().powi(3) * 2.5 * DAY as f64) as i64 + 300
            };
            if !answers || after_reminder {
                inv.reminded_at = (reminder_at <= now).then_some(reminder_at);
            }
            if answers && answered_at < now && answered_at < expires_at {
                inv.status = "responded";
                inv.responded_at = Some(answered_at);
                responses.push(response(
                    rng,
                    agency.id,
                    survey.id,
                    version,
                    contact_id,
                    g,
                    answered_at,
                ));
            } else if expires_at <= now {
                inv.status = "expired";
            }
            // Whatever was due went out: a demo server never starts by sending reminders.
            if inv.status == "sent" && reminder_at <= now {
                inv.reminded_at.get_or_insert(reminder_at);
            }
        }
        invitations.push(inv);
    }

    let mut tx = db.begin().await?;
    for chunk in invitations.chunks(200) {
        insert_invitations(&mut tx, agency.id, survey.id, chunk).await?;
    }
    for (contact_key, at) in &opted_out {
        on_tx!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO opt_outs (agency_id, contact_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(agency.id)
            .bind(contact_key)
            .bind(at)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await?;
    responses.sort_by_key(|r| r.submitted_at);
    writer::insert_all(db, &responses).await?;
    Ok(SeededContacts {
        contacts: gens.len(),
        excluded: gens
            .iter()
            .filter(|g| g.reason == Some("call_type"))
            .count(),
        invited: invitations.len(),
        responses: responses.len(),
    })
}

const COMMENTS: [&str; 6] = [
    "The officer took the time to explain what would happen next.",
    "I waited a long time before anyone came.",
    "Polite, but nobody followed up on my report.",
    "I did not understand why I was stopped.",
    "Very kind to my mother, thank you.",
    "The officer was rushed and did not listen.",
];

fn response(
    rng: &mut fastrand::Rng,
    agency_id: i64,
    survey_id: i64,
    version_id: i64,
    contact_id: i64,
    g: &Gen,
    at: i64,
) -> NewResponse {
    let sat = 7.1 + g.shift + normal(rng) * 1.6;
    let rate = |rng: &mut fastrand::Rng, s: f64| {
        Answer::Number((s + normal(rng) * 0.8).round().clamp(0.0, 10.0))
    };
    let agree = |rng: &mut fastrand::Rng, s: f64| {
        Answer::One(format!(
            "{}",
            (s / 10.0 * 4.0 + 1.0 + normal(rng) * 0.6)
                .round()
                .clamp(1.0, 5.0) as i64
        ))
    };
    let mut a = Answers::new();
    a.insert("overall".into(), rate(rng, sat));
    for (key, shift) in [
        ("pc_explained", -0.3),
        ("pc_listened", -0.2),
        ("pc_fair", 0.0),
        ("pc_respect", 0.3),
    ] {
        if rng.f64() < 0.95 {
            let v = agree(rng, sat + shift);
            a.insert(key.into(), v);
        }
    }
    if rng.f64() < 0.9 {
        a.insert("outcome".into(), rate(rng, sat - 0.6));
    }
    if rng.f64() < 0.2 {
        a.insert(
            "comments".into(),
            Answer::One(COMMENTS[rng.usize(..COMMENTS.len())].into()),
        );
    }
    if rng.f64() < 0.85 {
        let ages = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
        a.insert(
            "age_group".into(),
            Answer::One(ages[pick(rng, &[0.12, 0.2, 0.19, 0.17, 0.16, 0.16])].into()),
        );
        let genders = ["female", "male", "another", "prefer_not"];
        a.insert(
            "gender".into(),
            Answer::One(genders[pick(rng, &[0.5, 0.45, 0.02, 0.03])].into()),
        );
        let races = [
            "white",
            "black",
            "hispanic",
            "asian/pacific islander",
            "other",
        ];
        let race = if g.event.language == Lang::Es {
            2
        } else {
            pick(rng, &[0.62, 0.16, 0.1, 0.07, 0.05])
        };
        a.insert("race".into(), Answer::One(races[race].into()));
    }
    NewResponse {
        agency_id,
        survey_id,
        version_id,
        submitted_at: at,
        channel: "invitation".into(),
        language: g.event.language.code().into(),
        status: "ok",
        flag_reason: None,
        contact_id: Some(contact_id),
        officer_id: None,
        source_hash: None,
        answers: serde_json::to_string(&a).expect("answers serialise"),
        link: Link::Open,
    }
}

async fn insert_contacts(
    tx: &mut Tx,
    agency_id: i64,
    survey_id: i64,
    now: i64,
    retention_days: i64,
    rows: &[Gen],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 14;
    let mut sql = String::from(
        "INSERT INTO contacts (agency_id, survey_id, incident_number, occurred_at, call_type, district, \
         officer_badge, phone, email, language, contact_key, excluded_reason, created_at, purged_at) VALUES ",
    );
    push_values(&mut sql, rows.len(), COLUMNS);
    on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for g in rows {
            // Kept only for invited contacts still inside the retention period.
            let erase_at = match g.reason {
                Some(_) => Some(g.created_at),
                None => Some(g.created_at + retention_days * DAY).filter(|t| *t <= now),
            };
            let keep = erase_at.is_none();
            q = q
                .bind(agency_id)
                .bind(survey_id)
                .bind(&g.event.incident_number)
                .bind(g.event.occurred_at)
                .bind(&g.event.call_type)
                .bind(&g.event.district)
                .bind(&g.event.officer_badge)
                .bind(g.event.phone.as_deref().filter(|_| keep))
                .bind(g.event.email.as_deref().filter(|_| keep))
                .bind(g.event.language.code())
                .bind(&g.key)
                .bind(g.reason)
                .bind(g.created_at)
                .bind(erase_at);
        }
        q.execute(&mut **c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

struct Inv {
    contact_id: i64,
    token_hash: String,
    channel: &'static str,
    status: &'static str,
    created_at: i64,
    expires_at: i64,
    sent_at: Option<i64>,
    reminded_at: Option<i64>,
    responded_at: Option<i64>,
    error: Option<String>,
}

async fn insert_invitations(
    tx: &mut Tx,
    agency_id: i64,
    survey_id: i64,
    rows: &[Inv],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 12;
    let mut sql = String::from(
        "INSERT INTO invitations (agency_id, survey_id, contact_id, token_hash, channel, status, created_at, \
         expires_at, sent_at, reminded_at, responded_at, error) VALUES ",
    );
    push_values(&mut sql, rows.len(), COLUMNS);
    on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for r in rows {
            q = q
                .bind(agency_id)
                .bind(survey_id)
                .bind(r.contact_id)
                .bind(&r.token_hash)
                .bind(r.channel)
                .bind(r.status)
                .bind(r.created_at)
                .bind(r.expires_at)
                .bind(r.sent_at)
                .bind(r.reminded_at)
                .bind(r.responded_at)
                .bind(r.error.as_deref());
        }
        q.execute(&mut **c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

fn push_values(sql: &mut String, rows: usize, columns: usize) {
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 0..columns {
            if j > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * columns + j + 1));
        }
        sql.push(')');
    }
}
