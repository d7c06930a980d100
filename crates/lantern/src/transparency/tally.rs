//! What an import adds to the analysis store, counted in memory as its rows are written and
//! added to the store's tables at the end, in the same transaction.
//!
//! Only rows written are counted (a row whose key is already stored is a duplicate and adds
//! nothing), so the store always equals the same counts taken over the stored stops;
//! `tests/it/transparency.rs` checks exactly that.

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
pub const CELL_COUNTS: [&str; 10] = [
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
    /// The row's part of the veil-of-darkness store, when it has a clock time and its date
    /// sun times.
    light: Option<LightEntry>,
}

#[derive(Clone, Copy, Debug)]
struct LightEntry {
    /// Year, district, stop type and race, packed.
    group: u64,
    day_number: i32,
    day_of_year: u16,
    dusk: i64,
    /// Index into [`Light::minutes`], when the row is in daylight or darkness (not twilight).
    slot: Option<u16>,
}

/// The veil-of-darkness counts of one year, district, stop type and race (see
/// [`LightRow`](crate::transparency::store::LightRow)).
#[derive(Clone, Debug, PartialEq)]
pub struct Light {
    /// Stops at each minute of the day in daylight, then at each minute in darkness.
    pub minutes: Vec<u32>,
    /// Stops with a clock time on each day of the year, 1 January first.
    pub days: Vec<u32>,
}

impl Default for Light {
    fn default() -> Light {
        Light {
            minutes: vec![0; LIGHT_MINUTES],
            days: vec![0; LIGHT_DAYS],
        }
    }
}

pub const LIGHT_MINUTES: usize = 2 * 1440;
pub const LIGHT_DAYS: usize = 366;

impl Light {
    pub fn add(&mut self, other: &Light) {
        for (a, b) in self.minutes.iter_mut().zip(&other.minutes) {
            *a += b;
        }
        for (a, b) in self.days.iter_mut().zip(&other.days) {
            *a += b;
        }
    }
}

#[derive(Debug, Default)]
pub struct Tally {
    districts: Names,
    /// Stop types, races and sexes (each a handful of values once validated).
    codes: Names,
    /// Set when a text does not fit its key (more distinct districts than the key holds).
    overflow: Option<&'static str>,
    cells: FxHashMap<u64, [i64; 10]>,
    light: FxHashMap<u64, Light>,
    /// Dusk by day number, for the dates counted in `light`.
    dusk: FxHashMap<i32, i64>,
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
const LIGHT_BITS: [u32; 4] = [14, DISTRICT, CODE, CODE];

const fn total(bits: &[u32]) -> u32 {
    let mut sum = 0;
    let mut i = 0;
    while i < bits.len() {
        sum += bits[i];
        i += 1;
    }
    sum
}
const _: () = assert!(total(&CELL_BITS) <= 64 && total(&LIGHT_BITS) <= 64);

impl Tally {
    /// Counts a row written.
    pub fn count(&mut self, p: &PreparedStop) {
        let e = self.entry(p);
        self.add(&e);
    }

    /// What a row adds, its keys packed.
    fn entry(&mut self, p: &PreparedStop) -> Entry {
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
            light: None,
        };
        // The veil-of-darkness store: stops with a clock time on dates with sun times.
        if let (Some(minute), Some(sunset), Some(dusk)) =
            (p.stop_minute, p.sunset_minute, p.dusk_minute)
        {
            let minute = minute.clamp(0, 1439);
            entry.light = Some(LightEntry {
                group: pack(&[
                    (year.min(9999), 14),
                    (district, DISTRICT),
                    (stop_type, CODE),
                    (race, CODE),
                ]),
                day_number: r.date.num_days_from_ce(),
                day_of_year: r.date.ordinal0() as u16,
                dusk,
                // Twilight, between sunset and dusk (both included), is neither light nor dark.
                slot: (!(sunset..=dusk).contains(&minute))
                    .then(|| (minute + if minute >= dusk { 1440 } else { 0 }) as u16),
            });
        }
        entry
    }

    fn add(&mut self, e: &Entry) {
        let cell = self.cells.entry(e.cell).or_default();
        for (total, yes) in cell.iter_mut().zip(e.counts) {
            *total += i64::from(yes);
        }
        if let Some(l) = e.light {
            self.dusk.entry(l.day_number).or_insert(l.dusk);
            let light = self.light.entry(l.group).or_default();
            light.days[usize::from(l.day_of_year)] += 1;
            if let Some(slot) = l.slot {
                light.minutes[usize::from(slot)] += 1;
            }
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
        // In primary-key order, the store's index grows at its end instead of everywhere.
        let mut cells = cells;
        cells.sort_unstable_by(|a, b| {
            (&a.0, a.1, a.2, a.3, a.4, a.5).cmp(&(&b.0, b.1, b.2, b.3, b.4, b.5))
        });
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
        let mut dusk: Vec<(String, i64)> = self
            .dusk
            .iter()
            .filter_map(|(day, dusk)| {
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(*day)?;
                Some((date.format("%Y-%m-%d").to_string(), *dusk))
            })
            .collect();
        dusk.sort_unstable();
        for chunk in dusk.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_new_sql(
                "stop_dusk",
                &["stop_date", "dusk_minute"],
                &["stop_date"],
                chunk.len(),
                backend,
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (date, dusk) in chunk {
                    q = q.bind(agency_id).bind(date).bind(*dusk);
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        // The rows this import counted (a few hundred at most), each added to what an earlier
        // import stored.
        let mut stored: FxHashMap<(String, String, String, String), Light> =
            crate::transparency::store::light_rows(tx, agency_id)
                .await?
                .into_iter()
                .map(|r| ((r.year, r.district, r.stop_type, r.subject_race), r.light))
                .collect();
        let mut rows = Vec::with_capacity(self.light.len());
        for (key, light) in &self.light {
            let [year, district, stop_type, race] = unpack(*key, LIGHT_BITS);
            let key = (
                format!("{year:04}"),
                districts.name(district).to_string(),
                codes.name(stop_type).to_string(),
                codes.name(race).to_string(),
            );
            let mut merged = stored.remove(&key).unwrap_or_default();
            merged.add(light);
            rows.push((key, merged));
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for ((year, district, stop_type, race), light) in rows {
            crate::transparency::store::put_light_row(
                tx, agency_id, &year, &district, &stop_type, &race, &light,
            )
            .await?;
        }
        Ok(())
    }
}

/// Rows per upsert statement (17 parameters a row at most).
const ROWS_PER_STATEMENT: usize = 500;

/// `INSERT INTO table (agency_id, columns…) VALUES (…), …` for `rows` rows.
fn insert_sql(table: &str, columns: &[&str], rows: usize, backend: Backend) -> String {
    let width = columns.len() + 1;
    let mut sql = format!(
        "INSERT INTO {table} (agency_id, {}) VALUES ",
        columns.join(", ")
    );
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..width {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            // Positional on SQLite: sqlx looks each numbered placeholder up by name, and
            // SQLite's lookup walks every parameter of the statement.
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${n}")),
            }
        }
        sql.push(')');
    }
    sql
}

/// `INSERT … VALUES … ON CONFLICT (agency_id, keys…) DO UPDATE SET count = count + excluded.count`.
fn upsert_sql(
    table: &str,
    keys: &[&str],
    counts: &[&str],
    rows: usize,
    backend: Backend,
) -> String {
    let columns: Vec<&str> = keys.iter().chain(counts).copied().collect();
    let updates: Vec<String> = counts
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        "{} ON CONFLICT (agency_id, {}) DO UPDATE SET {}",
        insert_sql(table, &columns, rows, backend),
        keys.join(", "),
        updates.join(", ")
    )
}

/// `INSERT … VALUES … ON CONFLICT (agency_id, keys…) DO NOTHING`: what is stored stays.
fn insert_new_sql(
    table: &str,
    columns: &[&str],
    keys: &[&str],
    rows: usize,
    backend: Backend,
) -> String {
    format!(
        "{} ON CONFLICT (agency_id, {}) DO NOTHING",
        insert_sql(table, columns, rows, backend),
        keys.join(", ")
    )
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
        let parts = [(9999, 14), (3, 16), (2, 8), (255, 8)];
        assert_eq!(parts.map(|(_, b)| b), LIGHT_BITS);
        assert_eq!(unpack(pack(&parts), LIGHT_BITS), parts.map(|(v, _)| v));
    }

    #[test]
    fn upserts_add_to_the_counts_and_dusk_is_kept() {
        let sql = upsert_sql(
            "stop_cells",
            &["month"],
            &["stops", "hits"],
            2,
            Backend::Postgres,
        );
        assert_eq!(
            sql,
            "INSERT INTO stop_cells (agency_id, month, stops, hits) VALUES ($1,$2,$3,$4),($5,$6,$7,$8) \
             ON CONFLICT (agency_id, month) DO UPDATE SET stops = stop_cells.stops + excluded.stops, \
             hits = stop_cells.hits + excluded.hits"
        );
        let sql = insert_new_sql(
            "stop_dusk",
            &["stop_date", "dusk_minute"],
            &["stop_date"],
            1,
            Backend::Sqlite,
        );
        assert_eq!(
            sql,
            "INSERT INTO stop_dusk (agency_id, stop_date, dusk_minute) VALUES (?,?,?) \
             ON CONFLICT (agency_id, stop_date) DO NOTHING"
        );
    }
}
