//! What an import adds to the analysis store, counted in memory as its rows are written and
//! added to the store's tables at the end, in the same transaction.
//!
//! Only rows the database actually inserted are counted (a row whose key is already stored is
//! a duplicate and adds nothing), so the store always equals the same counts taken over the
//! stops table; `tests/it/transparency.rs` checks exactly that.

use std::collections::HashMap;

use chrono::Datelike;

use crate::on_tx;
use crate::platform::db::{Backend, Tx};
use crate::transparency::import::PreparedStop;

/// The age groups of the analysis store, youngest first.
pub const AGE_GROUPS: [&str; 7] = [
    "under 18",
    "18-24",
    "25-34",
    "35-44",
    "45-54",
    "55-64",
    "65 and over",
];

/// The age group of an age, "" when not recorded.
pub fn age_group(age: Option<i64>) -> &'static str {
    match age {
        None => "",
        Some(a) if a < 18 => AGE_GROUPS[0],
        Some(a) if a < 25 => AGE_GROUPS[1],
        Some(a) if a < 35 => AGE_GROUPS[2],
        Some(a) if a < 45 => AGE_GROUPS[3],
        Some(a) if a < 55 => AGE_GROUPS[4],
        Some(a) if a < 65 => AGE_GROUPS[5],
        Some(_) => AGE_GROUPS[6],
    }
}

/// (month, district, stop type, race, sex, age group)
type CellKey = (String, String, String, String, String, &'static str);
/// (date, district, stop type, race)
type DayKey = (String, String, String, String);
/// (minute, year, district, stop type, race, dark)
type MinuteKey = (i64, String, String, String, String, bool);

/// Counts of `stop_cells`, in column order.
const CELL_COUNTS: [&str; 10] = [
    "stops",
    "searches",
    "searches_with_outcome",
    "hits",
    "discretionary_searches",
    "discretionary_hits",
    "frisks",
    "arrests",
    "citations",
    "warnings",
];

#[derive(Debug, Default)]
pub struct Tally {
    cells: HashMap<CellKey, [i64; 10]>,
    /// Dusk of the date, stops with a clock time.
    days: HashMap<DayKey, (i64, i64)>,
    minutes: HashMap<MinuteKey, i64>,
}

fn text(v: &Option<String>, missing: &str) -> String {
    v.as_deref().unwrap_or(missing).to_string()
}

impl Tally {
    /// Counts one inserted row.
    pub fn add(&mut self, p: &PreparedStop) {
        let r = &p.record;
        let district = text(&r.district, "");
        let stop_type = text(&r.stop_type, "");
        let race = text(&r.subject_race, "unknown");
        let searched = r.search_conducted == Some(true);
        let with_outcome = searched && r.contraband_found.is_some();
        let hit = searched && r.contraband_found == Some(true);
        let discretionary = r.search_basis.as_deref() != Some("other");
        let outcome = r.outcome.as_deref();
        let counts = [
            true,
            searched,
            with_outcome,
            hit,
            with_outcome && discretionary,
            hit && discretionary,
            r.frisk_performed == Some(true),
            r.arrest_made == Some(true) || outcome == Some("arrest"),
            r.citation_issued == Some(true) || outcome == Some("citation"),
            r.warning_issued == Some(true) || outcome == Some("warning"),
        ];
        let month = format!("{:04}-{:02}", r.date.year(), r.date.month());
        let cell = self
            .cells
            .entry((
                month,
                district.clone(),
                stop_type.clone(),
                race.clone(),
                text(&r.subject_sex, ""),
                age_group(r.subject_age),
            ))
            .or_default();
        for (total, yes) in cell.iter_mut().zip(counts) {
            *total += i64::from(yes);
        }
        // The veil-of-darkness store: stops with a clock time on dates with sun times.
        let (Some(minute), Some(sunset), Some(dusk)) =
            (p.stop_minute, p.sunset_minute, p.dusk_minute)
        else {
            return;
        };
        let day = self
            .days
            .entry((
                r.date.format("%Y-%m-%d").to_string(),
                district.clone(),
                stop_type.clone(),
                race.clone(),
            ))
            .or_insert((dusk, 0));
        day.1 += 1;
        // Twilight, between sunset and dusk (both included), is neither light nor dark.
        if (sunset..=dusk).contains(&minute) {
            return;
        }
        *self
            .minutes
            .entry((
                minute,
                format!("{:04}", r.date.year()),
                district,
                stop_type,
                race,
                minute >= dusk,
            ))
            .or_default() += 1;
    }

    /// Adds the counts to the store's tables.
    pub async fn write(self, tx: &mut Tx, agency_id: i64) -> Result<(), sqlx::Error> {
        let backend = tx.backend();
        let cells: Vec<_> = self.cells.into_iter().collect();
        for chunk in cells.chunks(ROWS_PER_STATEMENT) {
            let sql = upsert_sql(
                "stop_cells",
                &[
                    "month",
                    "district",
                    "stop_type",
                    "subject_race",
                    "subject_sex",
                    "age_group",
                ],
                &CELL_COUNTS,
                chunk.len(),
                backend,
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for ((month, district, stop_type, race, sex, age), counts) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(month)
                        .bind(district)
                        .bind(stop_type)
                        .bind(race)
                        .bind(sex)
                        .bind(*age);
                    for n in counts {
                        q = q.bind(*n);
                    }
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        let days: Vec<_> = self.days.into_iter().collect();
        for chunk in days.chunks(ROWS_PER_STATEMENT) {
            let sql = upsert_sql(
                "stop_days",
                &[
                    "stop_date",
                    "district",
                    "stop_type",
                    "subject_race",
                    "dusk_minute",
                ],
                &["stops"],
                chunk.len(),
                backend,
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for ((date, district, stop_type, race), (dusk, stops)) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(date)
                        .bind(district)
                        .bind(stop_type)
                        .bind(race)
                        .bind(*dusk)
                        .bind(*stops);
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        let minutes: Vec<_> = self.minutes.into_iter().collect();
        for chunk in minutes.chunks(ROWS_PER_STATEMENT) {
            let sql = upsert_sql(
                "stop_minutes",
                &[
                    "stop_minute",
                    "year",
                    "district",
                    "stop_type",
                    "subject_race",
                    "is_dark",
                ],
                &["stops"],
                chunk.len(),
                backend,
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for ((minute, year, district, stop_type, race, dark), stops) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(*minute)
                        .bind(year)
                        .bind(district)
                        .bind(stop_type)
                        .bind(race)
                        .bind(i64::from(*dark))
                        .bind(*stops);
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        Ok(())
    }
}

/// Rows per upsert statement (17 parameters a row at most).
const ROWS_PER_STATEMENT: usize = 500;

/// `INSERT … VALUES … ON CONFLICT (agency_id, keys…) DO UPDATE SET count = count + excluded.count`.
/// `stop_days`' dusk is part of the inserted values but not of its key: a date has one dusk.
fn upsert_sql(
    table: &str,
    values: &[&str],
    counts: &[&str],
    rows: usize,
    backend: Backend,
) -> String {
    let columns: Vec<&str> = std::iter::once("agency_id")
        .chain(values.iter().copied())
        .chain(counts.iter().copied())
        .collect();
    let keys: Vec<&str> = std::iter::once("agency_id")
        .chain(values.iter().copied().filter(|c| *c != "dusk_minute"))
        .collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            // Positional on SQLite (see store::insert_sql).
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${n}")),
            }
        }
        sql.push(')');
    }
    let updates: Vec<String> = counts
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    sql.push_str(&format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        updates.join(", ")
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_groups_have_no_gaps() {
        assert_eq!(age_group(None), "");
        assert_eq!(age_group(Some(17)), "under 18");
        assert_eq!(age_group(Some(18)), "18-24");
        assert_eq!(age_group(Some(24)), "18-24");
        assert_eq!(age_group(Some(25)), "25-34");
        assert_eq!(age_group(Some(64)), "55-64");
        assert_eq!(age_group(Some(65)), "65 and over");
    }

    #[test]
    fn upserts_add_to_the_counts() {
        let sql = upsert_sql(
            "stop_days",
            &["stop_date", "dusk_minute"],
            &["stops"],
            2,
            Backend::Postgres,
        );
        assert_eq!(
            sql,
            "INSERT INTO stop_days (agency_id, stop_date, dusk_minute, stops) VALUES ($1,$2,$3,$4),($5,$6,$7,$8) \
             ON CONFLICT (agency_id, stop_date) DO UPDATE SET stops = stop_days.stops + excluded.stops"
        );
    }
}
