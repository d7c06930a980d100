//! What an import adds to the analysis store, counted in memory as its rows are written and
//! added to the store's tables at the end, in the same transaction.
//!
//! Only rows the database actually inserted are counted (a row whose key is already stored is
//! a duplicate and adds nothing), so the store always equals the same counts taken over the
//! stops table; `tests/it/transparency.rs` checks exactly that.

use rustc_hash::FxHashMap;

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

/// Small numbers for the texts of one import (districts, races, …), so that the keys of the
/// counts are integers: an import tallies millions of rows.
#[derive(Debug, Default)]
struct Names {
    ids: FxHashMap<String, u64>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u64 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u64;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: u64) -> &str {
        &self.names[id as usize]
    }
}

/// What one row adds, with its keys packed: see [`Tally::entry`].
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    cell: u64,
    counts: [bool; 10],
    /// Day key and dusk, when the row has a clock time and the date sun times.
    day: Option<(u64, i64)>,
    /// Minute key, when the row is in daylight or darkness (not twilight).
    minute: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Tally {
    districts: Names,
    /// Stop types, races and sexes (each a handful of values once validated).
    codes: Names,
    /// Set when a text does not fit its key (more distinct districts than the key holds).
    overflow: Option<&'static str>,
    cells: FxHashMap<u64, [i64; 10]>,
    /// Dusk of the date, stops with a clock time.
    days: FxHashMap<u64, (i64, i64)>,
    minutes: FxHashMap<u64, i64>,
}

// Key layouts, in bits from the top: a month since year 0 takes 20, a day number 24, a minute
// 11, a year 14, a district 16 (65,536 districts in one import at most), a stop type, race or
// sex 8, the age group 3, light or dark 1.
const DISTRICT: u32 = 16;
const CODE: u32 = 8;

fn pack(parts: &[(u64, u32)]) -> u64 {
    parts.iter().fold(0u64, |key, &(v, bits)| {
        debug_assert!(v < 1 << bits, "{v} does not fit in {bits} bits");
        (key << bits) | v
    })
}

fn unpack<const N: usize>(mut key: u64, bits: [u32; N]) -> [u64; N] {
    let mut out = [0; N];
    for i in (0..N).rev() {
        out[i] = key & ((1 << bits[i]) - 1);
        key >>= bits[i];
    }
    out
}

const CELL_BITS: [u32; 6] = [20, DISTRICT, CODE, CODE, CODE, 3];
const DAY_BITS: [u32; 4] = [24, DISTRICT, CODE, CODE];
const MINUTE_BITS: [u32; 6] = [11, 14, DISTRICT, CODE, CODE, 1];

const fn total(bits: &[u32]) -> u32 {
    let mut sum = 0;
    let mut i = 0;
    while i < bits.len() {
        sum += bits[i];
        i += 1;
    }
    sum
}
const _: () =
    assert!(total(&CELL_BITS) <= 64 && total(&DAY_BITS) <= 64 && total(&MINUTE_BITS) <= 64);

impl Tally {
    /// What a row would add (keys only; nothing is counted yet). Cheap, and done while the
    /// database writes the batch.
    pub fn entry(&mut self, p: &PreparedStop) -> Entry {
        let r = &p.record;
        let mut district = self.districts.id(r.district.as_deref().unwrap_or(""));
        let stop_type = self.codes.id(r.stop_type.as_deref().unwrap_or(""));
        let race = self
            .codes
            .id(r.subject_race.as_deref().unwrap_or("unknown"));
        let sex = self.codes.id(r.subject_sex.as_deref().unwrap_or(""));
        if district >= 1 << DISTRICT {
            self.overflow = Some("districts");
            district = 0;
        }
        let (stop_type, race, sex) = if stop_type.max(race).max(sex) >= 1 << CODE {
            self.overflow = Some("stop types, races and sexes");
            (0, 0, 0)
        } else {
            (stop_type, race, sex)
        };
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
        let year = r.date.year().clamp(0, 9999) as u64;
        let age = AGE_GROUPS
            .iter()
            .position(|g| *g == age_group(r.subject_age))
            .map_or(0, |i| i as u64 + 1);
        let cell = pack(&[
            (year * 12 + u64::from(r.date.month0()), 20),
            (district, DISTRICT),
            (stop_type, CODE),
            (race, CODE),
            (sex, CODE),
            (age, 3),
        ]);
        let mut entry = Entry {
            cell,
            counts,
            day: None,
            minute: None,
        };
        // The veil-of-darkness store: stops with a clock time on dates with sun times.
        if let (Some(minute), Some(sunset), Some(dusk)) =
            (p.stop_minute, p.sunset_minute, p.dusk_minute)
        {
            let day_number = u64::from(r.date.num_days_from_ce().max(0) as u32);
            entry.day = Some((
                pack(&[
                    (day_number, 24),
                    (district, DISTRICT),
                    (stop_type, CODE),
                    (race, CODE),
                ]),
                dusk,
            ));
            // Twilight, between sunset and dusk (both included), is neither light nor dark.
            if !(sunset..=dusk).contains(&minute) {
                entry.minute = Some(pack(&[
                    (minute.clamp(0, 1439) as u64, 11),
                    (year, 14),
                    (district, DISTRICT),
                    (stop_type, CODE),
                    (race, CODE),
                    (u64::from(minute >= dusk), 1),
                ]));
            }
        }
        entry
    }

    /// Counts a row the database wrote.
    pub fn add(&mut self, e: &Entry) {
        let cell = self.cells.entry(e.cell).or_default();
        for (total, yes) in cell.iter_mut().zip(e.counts) {
            *total += i64::from(yes);
        }
        if let Some((key, dusk)) = e.day {
            self.days.entry(key).or_insert((dusk, 0)).1 += 1;
        }
        if let Some(key) = e.minute {
            *self.minutes.entry(key).or_default() += 1;
        }
    }

    /// Why the counts cannot be written, if a text did not fit its key.
    pub fn check(&self) -> Result<(), String> {
        match self.overflow {
            None => Ok(()),
            Some(what) => Err(format!(
                "the file has more distinct {what} than one import can hold; split it by district"
            )),
        }
    }

    /// Adds the counts to the store's tables.
    pub async fn write(self, tx: &mut Tx, agency_id: i64) -> Result<(), sqlx::Error> {
        let backend = tx.backend();
        let (districts, codes) = (&self.districts, &self.codes);
        let cells: Vec<_> = self
            .cells
            .iter()
            .map(|(key, counts)| {
                let [month, district, stop_type, race, sex, age] = unpack(*key, CELL_BITS);
                (
                    format!("{:04}-{:02}", month / 12, month % 12 + 1),
                    districts.name(district),
                    codes.name(stop_type),
                    codes.name(race),
                    codes.name(sex),
                    if age == 0 {
                        ""
                    } else {
                        AGE_GROUPS[age as usize - 1]
                    },
                    counts,
                )
            })
            .collect();
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
                for (month, district, stop_type, race, sex, age, counts) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(month)
                        .bind(*district)
                        .bind(*stop_type)
                        .bind(*race)
                        .bind(*sex)
                        .bind(*age);
                    for n in counts.iter() {
                        q = q.bind(*n);
                    }
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        let days: Vec<_> = self
            .days
            .iter()
            .map(|(key, (dusk, stops))| {
                let [day, district, stop_type, race] = unpack(*key, DAY_BITS);
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(day as i32)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                (
                    date,
                    districts.name(district),
                    codes.name(stop_type),
                    codes.name(race),
                    *dusk,
                    *stops,
                )
            })
            .collect();
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
                for (date, district, stop_type, race, dusk, stops) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(date)
                        .bind(*district)
                        .bind(*stop_type)
                        .bind(*race)
                        .bind(*dusk)
                        .bind(*stops);
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        let minutes: Vec<_> = self
            .minutes
            .iter()
            .map(|(key, stops)| {
                let [minute, year, district, stop_type, race, dark] = unpack(*key, MINUTE_BITS);
                (
                    minute as i64,
                    format!("{year:04}"),
                    districts.name(district),
                    codes.name(stop_type),
                    codes.name(race),
                    dark as i64,
                    *stops,
                )
            })
            .collect();
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
                for (minute, year, district, stop_type, race, dark, stops) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(*minute)
                        .bind(year)
                        .bind(*district)
                        .bind(*stop_type)
                        .bind(*race)
                        .bind(*dark)
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
    fn keys_unpack_to_what_was_packed() {
        let parts = [(24_307, 20), (65_535, 16), (0, 8), (7, 8), (255, 8), (7, 3)];
        assert_eq!(parts.map(|(_, b)| b), CELL_BITS);
        assert_eq!(unpack(pack(&parts), CELL_BITS), parts.map(|(v, _)| v));
        let parts = [(1439, 11), (9999, 14), (3, 16), (2, 8), (255, 8), (1, 1)];
        assert_eq!(parts.map(|(_, b)| b), MINUTE_BITS);
        assert_eq!(unpack(pack(&parts), MINUTE_BITS), parts.map(|(v, _)| v));
        let parts = [(739_000, 24), (65_535, 16), (1, 8), (255, 8)];
        assert_eq!(parts.map(|(_, b)| b), DAY_BITS);
        assert_eq!(unpack(pack(&parts), DAY_BITS), parts.map(|(v, _)| v));
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
