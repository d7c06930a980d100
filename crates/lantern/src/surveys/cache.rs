//! Running totals per survey, kept in memory and brought up to date on each read (see
//! `aggregate`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike};

use super::aggregate::{Aggregate, Facts, Weighting};
use super::model::{Answers, Definition, Kind};
use super::store::{self, Survey};
use crate::on_db;
use crate::platform::db::Db;
use crate::platform::roster;

/// Rows read per query when catching up.
const PAGE: i64 = 20_000;

/// One survey's totals, locked while they are brought up to date.
type Slot = Arc<tokio::sync::Mutex<Entry>>;

#[derive(Default)]
pub struct ResultsCache {
    entries: Mutex<HashMap<(i64, i64), Slot>>,
}

#[derive(Default)]
struct Entry {
    aggregate: Aggregate,
    /// The weighting the cells were built for; a change rebuilds.
    signature: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    version_id: i64,
    submitted_at: i64,
    channel: String,
    status: String,
    officer_id: Option<i64>,
    call_type: Option<String>,
    district: Option<String>,
    answers: String,
}

impl ResultsCache {
    /// The survey's totals, up to date.
    pub async fn aggregate(
        &self,
        db: &Db,
        versions: &store::Versions,
        survey: &Survey,
        weighting: &Weighting,
        tz: chrono_tz::Tz,
    ) -> Result<Aggregate, sqlx::Error> {
        let slot = {
            let mut entries = self.entries.lock().expect("results cache lock");
            entries
                .entry((survey.agency_id, survey.id))
                .or_default()
                .clone()
        };
        let mut entry = slot.lock().await;
        let signature = format!("{}|{:?}", survey.results_epoch, weighting.variables);
        if entry.signature != signature {
            entry.aggregate = Aggregate {
                epoch: survey.results_epoch,
                ..Aggregate::default()
            };
            entry.signature = signature;
        }
        if survey.kind() == Kind::Employee {
            // Small, and keyed at random: read whole each time (the count tells if anything changed).
            entry.aggregate =
                employee_aggregate(db, versions, survey, weighting, &entry.aggregate).await?;
            return Ok(entry.aggregate.clone());
        }
        let officers = if matches!(survey.kind(), Kind::OfficerCard | Kind::PostContact) {
            officer_facts(db, survey.agency_id).await?
        } else {
            HashMap::new()
        };
        loop {
            let rows: Vec<Row> = on_db!(db, |pool| {
                sqlx::query_as(
                    "SELECT r.id, r.version_id, r.submitted_at, r.channel, r.status, r.officer_id, \
                            c.call_type, c.district, r.answers \
                     FROM responses r LEFT JOIN contacts c ON c.agency_id = r.agency_id AND c.id = r.contact_id \
                     WHERE r.agency_id = $1 AND r.survey_id = $2 AND r.id > $3 ORDER BY r.id LIMIT $4",
                )
                .bind(survey.agency_id)
                .bind(survey.id)
                .bind(entry.aggregate.last_id)
                .bind(PAGE)
                .fetch_all(pool)
                .await
            })?;
            let fetched = rows.len() as i64;
            for row in rows {
                entry.aggregate.last_id = row.id;
                if row.status != "ok" {
                    entry.aggregate.flagged += u64::from(row.status == "flagged");
                    continue;
                }
                let Some(version) = versions.get(db, survey.agency_id, row.version_id).await?
                else {
                    continue;
                };
                let Ok(answers) = serde_json::from_str::<Answers>(&row.answers) else {
                    tracing::warn!(response = row.id, "unreadable answers skipped");
                    continue;
                };
                let (officer, unit) = match row.officer_id.and_then(|id| officers.get(&id)) {
                    Some((o, u)) => (Some(o.clone()), u.clone()),
                    None => (None, None),
                };
                let facts = Facts {
                    month: month_of(row.submitted_at, tz),
                    channel: if row.channel.is_empty() {
                        "direct".into()
                    } else {
                        row.channel
                    },
                    officer,
                    unit,
                    call_type: row.call_type,
                    contact_district: row.district.filter(|d| !d.is_empty()),
                };
                entry
                    .aggregate
                    .add(&version.definition, version.id, &answers, &facts, weighting);
            }
            if fetched < PAGE {
                break;
            }
        }
        Ok(entry.aggregate.clone())
    }

    /// Drops a survey's totals (after flagged responses were reviewed).
    pub fn forget(&self, agency_id: i64, survey_id: i64) {
        self.entries
            .lock()
            .expect("results cache lock")
            .remove(&(agency_id, survey_id));
    }
}

fn month_of(unix: i64, tz: chrono_tz::Tz) -> String {
    match DateTime::from_timestamp(unix, 0) {
        Some(t) => {
            let local = t.with_timezone(&tz);
            format!("{:04}-{:02}", local.year(), local.month())
        }
        None => "unknown".into(),
    }
}

/// Officer id → ("Badge 1234 · Lastname", current unit).
async fn officer_facts(
    db: &Db,
    agency_id: i64,
) -> Result<HashMap<i64, (String, Option<String>)>, sqlx::Error> {
    Ok(roster::officers(db, agency_id)
        .await?
        .into_iter()
        .map(|o| {
            (
                o.id,
                (
                    format!("{} {} (#{})", o.first_name, o.last_name, o.badge),
                    o.unit,
                ),
            )
        })
        .collect())
}

async fn employee_aggregate(
    db: &Db,
    versions: &store::Versions,
    survey: &Survey,
    weighting: &Weighting,
    previous: &Aggregate,
) -> Result<Aggregate, sqlx::Error> {
    let count: i64 = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM employee_responses WHERE agency_id = $1 AND survey_id = $2",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .fetch_one(pool)
        .await
    })?;
    if count as u64 == previous.respondents && previous.epoch == survey.results_epoch && count > 0 {
        return Ok(previous.clone());
    }
    let rows: Vec<(i64, String, String)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT version_id, day, answers FROM employee_responses WHERE agency_id = $1 AND survey_id = $2")
            .bind(survey.agency_id)
            .bind(survey.id)
            .fetch_all(pool)
            .await
    })?;
    let mut agg = Aggregate {
        epoch: survey.results_epoch,
        ..Aggregate::default()
    };
    for (version_id, day, answers) in rows {
        let Some(version) = versions.get(db, survey.agency_id, version_id).await? else {
            continue;
        };
        let Ok(answers) = serde_json::from_str::<Answers>(&answers) else {
            continue;
        };
        let facts = Facts {
            month: day.get(..7).unwrap_or("unknown").to_string(),
            ..Facts::default()
        };
        agg.add(&version.definition, version_id, &answers, &facts, weighting);
    }
    Ok(agg)
}

/// The census categories weighting can use: age groups, sex and race from the agency's
/// margins, districts from their populations.
pub async fn census(
    db: &Db,
    agency_id: i64,
) -> Result<HashMap<&'static str, Vec<(String, i64)>>, sqlx::Error> {
    let margins = roster::margins(db, agency_id).await?;
    let mut out: HashMap<&'static str, Vec<(String, i64)>> = HashMap::new();
    for m in margins.iter().filter(|m| m.geography == "agency") {
        let key = match m.dimension.as_str() {
            "race" => "race",
            "sex" => "sex",
            "age_group" => "age_group",
            _ => continue,
        };
        out.entry(key)
            .or_default()
            .push((m.category.clone(), m.population));
    }
    let districts: Vec<(String, i64)> = roster::districts(db, agency_id)
        .await?
        .into_iter()
        .filter(|d| d.population > 0)
        .map(|d| (d.code, d.population))
        .collect();
    if !districts.is_empty() {
        out.insert("district", districts);
    }
    Ok(out)
}

/// The weighting a definition gets from the census known.
pub fn weighting_for(
    def: &Definition,
    census: &HashMap<&'static str, Vec<(String, i64)>>,
) -> Weighting {
    let categories: HashMap<&'static str, Vec<String>> = census
        .iter()
        .map(|(k, v)| (*k, v.iter().map(|(c, _)| c.clone()).collect()))
        .collect();
    Weighting::for_definition(def, &categories)
}

/// Folds every published survey's responses once, in the background, when the server starts,
/// so the first person to open a large survey's results after a restart does not wait for it
/// (a million responses take seconds to fold; after that each page reads only what is new).
pub async fn warm_up(state: crate::state::AppState) {
    let started = std::time::Instant::now();
    let mut folded = 0u64;
    let result: Result<(), sqlx::Error> = async {
        for agency in crate::platform::agencies::list(&state.db).await? {
            let census = census(&state.db, agency.id).await?;
            for survey in store::list(&state.db, agency.id).await? {
                let Some(version_id) = survey.current_version else {
                    continue;
                };
                if survey.kind() == Kind::Employee {
                    continue; // small, and read whole at each request
                }
                let Some(version) = state
                    .surveys()
                    .versions
                    .get(&state.db, agency.id, version_id)
                    .await?
                else {
                    continue;
                };
                let weighting = weighting_for(&version.definition, &census);
                let agg = state
                    .surveys()
                    .results
                    .aggregate(
                        &state.db,
                        &state.surveys().versions,
                        &survey,
                        &weighting,
                        agency.tz(),
                    )
                    .await?;
                folded += agg.respondents;
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => tracing::info!(
            responses = folded,
            seconds = started.elapsed().as_secs_f64(),
            "survey results ready"
        ),
        Err(e) => tracing::warn!(error = %e, "survey results could not be prepared in advance"),
    }
}
