//! Three years of synthetic stops for the demo agency, with known effects injected so the
//! analyses have something true to find and tests can check that they find it.
//!
//! How a stop is made (all draws from the shared generator, in this order per stop):
//! 1. a date, uniform over the three calendar years before the current one;
//! 2. a clock time, from an hourly profile that is busiest in the afternoon and evening;
//! 3. whether it is dark then (after dusk at the agency's centre point, suncalc);
//! 4. the district and the subject's race together, with probability proportional to the
//!    district's residents of that race × the race's stop propensity ([`EFFECTS`]), where the
//!    Black propensity is multiplied by exp(darkness effect) after dusk. So, per resident,
//!    Hispanic residents are stopped 1.5 times as often as White residents, and the log-odds
//!    that a stopped driver is Black rather than White, within a district, fall by 0.35 after
//!    dark: exactly the veil-of-darkness model with district;
//! 5. the evidence the officer sees, p ~ Beta(1, 12); a search when p exceeds the threshold of
//!    the subject's race (lower for Hispanic subjects); contraband found with probability p.
//!    So the search rate of a group is (1 − t)^12 and its hit rate t + (1 − t)/13;
//! 6. the outcome (arrest, citation or warning), officer, sex, age and stop type.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

use crate::platform::agencies::Agency;
use crate::platform::audit::Actor;
use crate::platform::db::Db;
use crate::platform::roster;
use crate::transparency::import::{self, SunCache};
use crate::transparency::model::StopRecord;

/// The effects the generator injects, for tests and the demo's own explanation.
#[derive(Clone, Copy, Debug)]
pub struct StopEffects {
    /// Stops per year.
    pub stops_per_year: usize,
    /// Stop propensity per resident relative to White residents, by race.
    pub propensity: [(&'static str, f64); 5],
    /// Change in the log-odds that a stopped driver is Black rather than White after dusk.
    pub darkness_log_odds: f64,
    /// Evidence p ~ Beta(1, b).
    pub evidence_beta_b: f64,
    /// Search when p exceeds this threshold, by race.
    pub search_threshold: [(&'static str, f64); 5],
}

pub const EFFECTS: StopEffects = StopEffects {
    stops_per_year: 15_000,
    propensity: [
        ("white", 1.0),
        ("black", 1.8),
        ("hispanic", 1.5),
        ("asian/pacific islander", 0.7),
        ("other", 1.0),
    ],
    darkness_log_odds: -0.35,
    evidence_beta_b: 12.0,
    search_threshold: [
        ("white", 0.25),
        ("black", 0.25),
        ("hispanic", 0.15),
        ("asian/pacific islander", 0.25),
        ("other", 0.25),
    ],
};

impl StopEffects {
    pub fn threshold(&self, race: &str) -> f64 {
        self.search_threshold
            .iter()
            .find(|(r, _)| *r == race)
            .map_or(0.25, |(_, t)| *t)
    }

    /// The search rate the generator implies: P(p > t) for p ~ Beta(1, b).
    pub fn expected_search_rate(&self, race: &str) -> f64 {
        (1.0 - self.threshold(race)).powf(self.evidence_beta_b)
    }

    /// The hit rate the generator implies: E[p | p > t] for p ~ Beta(1, b).
    pub fn expected_hit_rate(&self, race: &str) -> f64 {
        let t = self.threshold(race);
        t + (1.0 - t) / (self.evidence_beta_b + 1.0)
    }
}

/// Relative stop counts by hour of day (00–23).
const HOURS: [f64; 24] = [
    2.0, 1.5, 1.0, 0.8, 0.6, 0.8, 1.5, 3.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5,
    6.5, 6.0, 5.5, 4.5, 3.0,
];

/// Draws p ~ Beta(1, b) by inversion: 1 − U^(1/b).
fn beta_1_b(rng: &mut fastrand::Rng, b: f64) -> f64 {
    1.0 - rng.f64().powf(1.0 / b)
}

fn weighted(rng: &mut fastrand::Rng, weights: &[f64]) -> usize {
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

/// Makes the stops and writes them as one import.
pub async fn seed(
    db: &Db,
    rng: &mut fastrand::Rng,
    agency: &Agency,
    now: i64,
) -> anyhow::Result<usize> {
    let e = EFFECTS;
    // (district, race, residents) cells from the census margins the agency was seeded with.
    let cells: Vec<(String, String, f64)> = roster::margins(db, agency.id)
        .await?
        .into_iter()
        .filter(|m| m.dimension == "race" && m.geography != "agency")
        .map(|m| (m.geography, m.category, m.population as f64))
        .collect();
    let propensity = |race: &str| {
        e.propensity
            .iter()
            .find(|(r, _)| *r == race)
            .map_or(1.0, |(_, p)| *p)
    };
    let light: Vec<f64> = cells.iter().map(|(_, r, n)| n * propensity(r)).collect();
    let dark: Vec<f64> = cells
        .iter()
        .map(|(_, r, n)| {
            let boost = if r == "black" {
                e.darkness_log_odds.exp()
            } else {
                1.0
            };
            n * propensity(r) * boost
        })
        .collect();

    let this_year = chrono::DateTime::from_timestamp(now, 0)
        .expect("now is a valid time")
        .year();
    let first = NaiveDate::from_ymd_opt(this_year - 3, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(this_year - 1, 12, 31).expect("valid date");
    let days = (last - first).num_days() + 1;
    let mut sun = SunCache::new(agency);
    let n = e.stops_per_year * 3;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        let date = first + Duration::days(rng.i64(0..days));
        let hour = weighted(rng, &HOURS) as u32;
        let minute = rng.u32(0..60);
        let second = rng.u32(0..60);
        let time = NaiveTime::from_hms_opt(hour, minute, second).expect("valid time");
        let clock = i64::from(hour * 60 + minute);
        let (_, dusk) = sun.get(date);
        let is_dark = dusk.is_some_and(|d| clock >= d);
        let cell = weighted(rng, if is_dark { &dark } else { &light });
        let (district, race, _) = &cells[cell];
        let evidence = beta_1_b(rng, e.evidence_beta_b);
        let searched = evidence > e.threshold(race);
        let found = searched && rng.f64() < evidence;
        let arrested = rng.f64() < if found { 0.45 } else { 0.03 };
        let cited = !arrested && rng.f64() < 0.55;
        let outcome = if arrested {
            "arrest"
        } else if cited {
            "citation"
        } else {
            "warning"
        };
        let female = rng.f64() < 0.38;
        let age = 16 + (rng.f64().powf(1.6) * 64.0) as i64;
        let pedestrian = rng.f64() < 0.12;
        let officer = 1001 + rng.usize(0..crate::demo::agency::OFFICERS);
        records.push(StopRecord {
            date,
            time: Some(time),
            district: Some(district.clone()),
            subject_race: Some(race.clone()),
            subject_sex: Some(if female { "female" } else { "male" }.into()),
            subject_age: Some(age),
            officer_id: Some(officer.to_string()),
            stop_type: Some(
                if pedestrian {
                    "pedestrian"
                } else {
                    "vehicular"
                }
                .into(),
            ),
            reason_for_stop: Some(
                if pedestrian {
                    "Suspicious activity"
                } else {
                    "Traffic violation"
                }
                .into(),
            ),
            outcome: Some(outcome.into()),
            arrest_made: Some(arrested),
            citation_issued: Some(cited),
            warning_issued: Some(!arrested && !cited),
            search_conducted: Some(searched),
            contraband_found: searched.then_some(found),
            ..Default::default()
        });
    }
    let (_, report) = import::write_records(
        db,
        agency,
        "demo stops (synthetic)",
        "demo",
        records,
        &Actor::System("demo"),
        now,
    )
    .await?;
    Ok(report.rows_inserted as usize)
}
