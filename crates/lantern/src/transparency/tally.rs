//! What an import adds to the analysis store, counted in memory from each chunk of stops as it
//! is stored, and added to the store's tables at the end, in the same transaction.
//!
//! Only stops stored are counted (a row whose key is already stored is a duplicate and adds
//! nothing), so the store always equals the same counts taken over the stored stops;
//! `tests/it/transparency.rs` checks exactly that.

use rustc_hash::FxHashMap;

use chrono::Datelike;

use crate::on_tx;
use crate::platform::db::{Backend, Tx};
use crate::transparency::chunks::{Counted, CountedStop, flag};
use crate::transparency::model::{FromOutcome, OUTCOMES, RACES, SEARCH_BASES, SEXES, STOP_TYPES};

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

/// The counts of each cell of the analysis store, in the order `stop_month_cells.cells`
/// lists them. The `_missing` counts are the stops that did not record the field: each rate is
/// over the stops that recorded it (SOPP's convention), so a missing value must not count as
/// "no". `discretionary_missing_result` is the discretionary searches without a recorded
/// `contraband_found` (the hit rate's denominator leaves them out).
pub const CELL_COUNTS: [&str; COUNTS] = [
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
    "search_missing",
    "frisk_missing",
    "arrest_missing",
    "citation_missing",
    "warning_missing",
    "discretionary_missing_result",
];

/// How many counts a cell has (a stop's are bits of a `u16`, so at most 16).
pub const COUNTS: usize = 16;

/// The version of the `stop_month_cells.cells` text this code writes and reads
/// (`stop_month_cells.format`): 2 added the `_missing` counts. Rows of an older format are
/// counted again from the stored chunks when the database is migrated ([`rebuild`]).
///
/// [`rebuild`]: crate::transparency::store::rebuild_stale_cells
pub const CELLS_FORMAT: i64 = 2;

/// Small numbers for the districts of one import, so that the keys of the counts are
/// integers: an import tallies millions of rows.
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

/// The analysis store's counts of one import, as it counts them.
///
/// Cells are kept in blocks, one per month and district, each holding every stop type × race ×
/// sex × age group at a place computed from them, and a chunk's stops are counted block by
/// block: a block is then in cache while its stops are counted. Counted in file order, each
/// stop touched a random place in megabytes of counts, and that miss was a tenth of an import.
#[derive(Debug, Default)]
pub struct Tally {
    districts: Names,
    /// Set when a count does not fit (more distinct districts, or stops in one cell, than the
    /// store's keys and counts hold).
    overflow: Option<&'static str>,
    /// Block number by month (since year 0) and district id.
    blocks: FxHashMap<(u32, u32), u32>,
    /// Each block's month and district id.
    block_keys: Vec<(u32, u32)>,
    /// [`CELLS_PER_BLOCK`] cells a block, each its [`CELL_COUNTS`] as 32-bit numbers (no one
    /// import holds 4 billion stops; [`Tally::check`] says so if one did).
    counts: Vec<[u32; COUNTS]>,
    light: FxHashMap<u64, Light>,
    /// Which outcomes the stops being counted take from `outcome` (their import's file has no
    /// column for them).
    from_outcome: FromOutcome,
    /// Dusk by day number, for the dates counted in `light`.
    dusk: FxHashMap<i32, i64>,
    /// Room [`Tally::count_chunk`] reuses from chunk to chunk.
    scratch: Scratch,
}

/// A chunk's stops placed, and the order they are counted in.
#[derive(Debug, Default)]
struct Scratch {
    placed: Vec<Placed>,
    starts: Vec<u32>,
    next: Vec<u32>,
    order: Vec<u32>,
}

/// A row of `stop_month_cells`: month (YYYY-MM), district, stops, and the cells' text.
type MonthCells = (String, String, i64, String);

/// One line of a `stop_month_cells.cells` text: the cell's stop type, race, sex and age group
/// as stored ("" when not recorded), and its [`CELL_COUNTS`].
#[derive(Clone, Debug, PartialEq)]
pub struct CellLine<'a> {
    pub names: [&'a str; 4],
    pub counts: [u64; COUNTS],
}

/// Reads the cells of one month and district, as `stop_month_cells.cells` holds them.
pub fn read_cells(text: &str) -> Result<Vec<CellLine<'_>>, String> {
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let bad = || format!("the analysis store holds a cell it cannot read: {line:?}");
            let mut fields = line.split(',');
            let mut names = [""; 4];
            for name in &mut names {
                *name = fields.next().ok_or_else(bad)?;
            }
            let mut counts = [0u64; COUNTS];
            for count in &mut counts {
                *count = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
            }
            if fields.next().is_some() {
                return Err(bad());
            }
            Ok(CellLine { names, counts })
        })
        .collect()
}

/// Appends one line of a `stop_month_cells.cells` text.
fn write_cell(out: &mut String, names: [&str; 4], counts: &[u64; COUNTS]) {
    if !out.is_empty() {
        out.push('\n');
    }
    for name in names {
        out.push_str(name);
        out.push(',');
    }
    // itoa: the store's rows are a few megabytes of numbers, written while the import's
    // transaction waits.
    let mut number = itoa::Buffer::new();
    for (k, n) in counts.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(number.format(*n));
    }
}

/// Stop types (none, vehicular, pedestrian) × races × sexes (none, male, female) × age groups
/// (none and seven).
const CELLS_PER_BLOCK: usize = 3 * 6 * 3 * 8;

/// A cell's place in its block.
fn cell_in_block(stop_type: u64, race: u64, sex: u64, age: u64) -> usize {
    (((stop_type * 6 + race) * 3 + sex) * 8 + age) as usize
}

/// The stop type, race, sex and age group of a cell's place in its block.
fn cell_parts(cell: usize) -> [u64; 4] {
    let cell = cell as u64;
    [cell / 144, cell / 24 % 6, cell / 8 % 3, cell % 8]
}

/// The names a cell's place in its block is stored under.
fn cell_names(cell: usize) -> [&'static str; 4] {
    let [stop_type, race, sex, age] = cell_parts(cell);
    [
        stop_type_name(stop_type),
        race_name(race),
        sex_name(sex),
        age.checked_sub(1).map_or("", |a| AGE_GROUPS[a as usize]),
    ]
}

/// The place in its block of a cell stored under these names.
fn cell_named(names: [&str; 4]) -> Option<usize> {
    let code = |name: &str, names: &[&str]| -> Option<u64> {
        match name {
            "" => Some(0),
            _ => names.iter().position(|n| *n == name).map(|i| i as u64 + 1),
        }
    };
    let race = RACES.iter().position(|r| *r == names[1])? as u64;
    Some(cell_in_block(
        code(names[0], &STOP_TYPES)?,
        race,
        code(names[2], &SEXES)?,
        code(names[3], &AGE_GROUPS)?,
    ))
}

/// A month number (months since year 0) as the store writes it, YYYY-MM.
fn month_name(month: u32) -> String {
    format!("{:04}-{:02}", month / 12, month % 12 + 1)
}

/// One stop of a chunk, placed: its block, its cell in the block, what it counts (bits in
/// [`CELL_COUNTS`] order) and, when it is in the darkness test, its place there.
#[derive(Clone, Copy, Debug)]
struct Placed {
    block: u32,
    cell: u16,
    counts: u16,
    /// Day of the year, and the minute slot in [`Light::minutes`] (`NO_SLOT` in twilight);
    /// `day` is `NO_DAY` when the stop is not in the darkness test.
    day: u16,
    slot: u16,
}

const NO_DAY: u16 = u16::MAX;
const NO_SLOT: u16 = u16::MAX;

// The darkness store's key, in bits from the top: a year takes 14, a district 16 (65,536
// districts in one import at most), a stop type and a race 8 each.
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
const _: () = assert!(total(&LIGHT_BITS) <= 64);

/// The store's names of the coded fields, by the small numbers its keys hold: a stop type
/// or sex is its category's index plus one (0: not recorded, stored as ""); a race is its
/// category's index, a missing race counted as "unknown".
fn stop_type_name(id: u64) -> &'static str {
    id.checked_sub(1).map_or("", |i| STOP_TYPES[i as usize])
}
fn sex_name(id: u64) -> &'static str {
    id.checked_sub(1).map_or("", |i| SEXES[i as usize])
}
fn race_name(id: u64) -> &'static str {
    RACES[id as usize]
}
const UNKNOWN_RACE: u8 = 5;

/// The age group of an age as the store's keys hold it: its index in [`AGE_GROUPS`] plus one,
/// 0 when not recorded.
fn age_index(age: Option<i64>) -> u64 {
    match age {
        None => 0,
        Some(a) => 1 + [18, 25, 35, 45, 55, 65].iter().filter(|b| a >= **b).count() as u64,
    }
}

impl Tally {
    /// A tally of the stops of one import, which counts the outcomes `from_outcome` names
    /// from `outcome`.
    pub fn new(from_outcome: FromOutcome) -> Tally {
        Tally {
            from_outcome,
            ..Default::default()
        }
    }

    /// Counts the stops that follow as of an import that takes `from_outcome` from `outcome`.
    pub fn count_as(&mut self, from_outcome: FromOutcome) {
        self.from_outcome = from_outcome;
    }

    /// Counts the stops of a chunk that is about to be stored.
    pub fn count_chunk(&mut self, chunk: &Counted) {
        // The chunk's district codes, as this tally numbers districts.
        let mut districts: Vec<Option<u64>> = vec![None; chunk.districts.len() + 1];
        let Scratch {
            mut placed,
            mut starts,
            mut next,
            mut order,
        } = std::mem::take(&mut self.scratch);
        placed.clear();
        let mut last_day = None;
        for i in 0..chunk.len() {
            let stop = chunk.get(i);
            let d = stop.district as usize;
            let district = match districts[d] {
                Some(id) => id,
                None => {
                    let name = d.checked_sub(1).map_or("", |i| chunk.districts[i].as_str());
                    let mut id = self.districts.id(name);
                    if id >= 1 << DISTRICT {
                        self.overflow = Some("districts");
                        id = 0;
                    }
                    districts[d] = Some(id);
                    id
                }
            };
            // Stops of one day often come together.
            let (month, day_of_year) = match last_day {
                Some((day, month, doy)) if day == stop.day => (month, doy),
                _ => {
                    let date =
                        chrono::NaiveDate::from_num_days_from_ce_opt(stop.day).unwrap_or_default();
                    let year = date.year().clamp(0, 9999) as u32;
                    let found = (year * 12 + date.month0(), date.ordinal0() as u16);
                    last_day = Some((stop.day, found.0, found.1));
                    found
                }
            };
            placed.push(self.place(&stop, month, district, day_of_year));
        }
        // Counting sort by block, then count block by block.
        starts.clear();
        starts.resize(self.block_keys.len() + 1, 0);
        for p in &placed {
            starts[p.block as usize + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        next.clear();
        next.extend_from_slice(&starts);
        order.clear();
        order.resize(placed.len(), 0);
        for (i, p) in placed.iter().enumerate() {
            order[next[p.block as usize] as usize] = i as u32;
            next[p.block as usize] += 1;
        }
        for block in 0..self.block_keys.len() {
            let (month, district) = self.block_keys[block];
            let year = u64::from(month / 12);
            let base = block * CELLS_PER_BLOCK;
            for &i in &order[starts[block] as usize..starts[block + 1] as usize] {
                let p = placed[i as usize];
                let cell = &mut self.counts[base + usize::from(p.cell)];
                for (k, total) in cell.iter_mut().enumerate() {
                    *total += u32::from(p.counts >> k & 1);
                }
                // The stop count is the largest of a cell's counts.
                if cell[0] == u32::MAX {
                    self.overflow = Some("stops in one month, district and group");
                }
                if p.day != NO_DAY {
                    let [stop_type, race, _, _] = cell_parts(usize::from(p.cell));
                    let group = pack(&[
                        (year, 14),
                        (u64::from(district), DISTRICT),
                        (stop_type, CODE),
                        (race, CODE),
                    ]);
                    let light = self.light.entry(group).or_default();
                    light.days[usize::from(p.day)] += 1;
                    if p.slot != NO_SLOT {
                        light.minutes[usize::from(p.slot)] += 1;
                    }
                }
            }
        }
        self.scratch = Scratch {
            placed,
            starts,
            next,
            order,
        };
    }

    /// The block of a month and district, made when first met.
    fn block(&mut self, month: u32, district: u32) -> u32 {
        *self.blocks.entry((month, district)).or_insert_with(|| {
            self.block_keys.push((month, district));
            self.counts
                .resize(self.block_keys.len() * CELLS_PER_BLOCK, [0; COUNTS]);
            self.block_keys.len() as u32 - 1
        })
    }

    /// Where a stop is counted, and what it counts.
    fn place(&mut self, stop: &CountedStop, month: u32, district: u64, day_of_year: u16) -> Placed {
        let flag = |i| flag(stop.flags, i);
        let searched = flag(4) == Some(true);
        let contraband = flag(5);
        let with_outcome = searched && contraband.is_some();
        let hit = searched && contraband == Some(true);
        let discretionary =
            stop.search_basis.map(|b| SEARCH_BASES[usize::from(b)]) != Some("other");
        let outcome = stop.outcome.map(|o| OUTCOMES[usize::from(o)]);
        // Arrest, citation and warning: the file's own column, or `outcome` where the file
        // has no such column; missing either way when the source did not say.
        let action = |i: usize| {
            if self.from_outcome.derived(i) {
                let category = FromOutcome::FIELDS[i].1;
                outcome.map(|o| o == category)
            } else {
                flag(i)
            }
        };
        let (arrest, citation, warning) = (action(0), action(1), action(2));
        let counts = [
            true,
            searched,
            with_outcome,
            hit,
            with_outcome && discretionary,
            hit && discretionary,
            flag(3) == Some(true),
            arrest == Some(true),
            citation == Some(true),
            warning == Some(true),
            flag(4).is_none(),
            flag(3).is_none(),
            arrest.is_none(),
            citation.is_none(),
            warning.is_none(),
            searched && discretionary && contraband.is_none(),
        ]
        .iter()
        .enumerate()
        .fold(0u16, |bits, (k, yes)| bits | u16::from(*yes) << k);
        let cell = cell_in_block(
            stop.stop_type.map_or(0, |c| u64::from(c) + 1),
            u64::from(stop.race.unwrap_or(UNKNOWN_RACE)),
            stop.sex.map_or(0, |c| u64::from(c) + 1),
            age_index(stop.age),
        ) as u16;
        let (mut day, mut slot) = (NO_DAY, NO_SLOT);
        // The veil-of-darkness store: stops with a clock time on dates with sun times.
        if let (Some(minute), Some(sunset), Some(dusk)) = (stop.minute, stop.sunset, stop.dusk) {
            self.dusk.entry(stop.day).or_insert(dusk);
            let minute = minute.clamp(0, 1439);
            day = day_of_year;
            // Twilight, between sunset and dusk (both included), is neither light nor dark.
            if !(sunset..=dusk).contains(&minute) {
                slot = (minute + if minute >= dusk { 1440 } else { 0 }) as u16;
            }
        }
        Placed {
            block: self.block(month, district as u32),
            cell,
            counts,
            day,
            slot,
        }
    }

    /// Adds what another tally counted (another thread's share of the same import).
    pub fn absorb(&mut self, other: Tally) {
        self.overflow = self.overflow.or(other.overflow);
        let mut districts = Vec::with_capacity(other.districts.names.len());
        for name in &other.districts.names {
            let mut id = self.districts.id(name);
            if id >= 1 << DISTRICT {
                self.overflow = Some("districts");
                id = 0;
            }
            districts.push(id);
        }
        self.counts
            .reserve(other.block_keys.len() * CELLS_PER_BLOCK);
        for (b, (month, district)) in other.block_keys.iter().enumerate() {
            let mine = self.block(*month, districts[*district as usize] as u32) as usize;
            let theirs = &other.counts[b * CELLS_PER_BLOCK..(b + 1) * CELLS_PER_BLOCK];
            let ours = &mut self.counts[mine * CELLS_PER_BLOCK..(mine + 1) * CELLS_PER_BLOCK];
            for (cell, more) in ours.iter_mut().zip(theirs) {
                for (a, b) in cell.iter_mut().zip(more) {
                    *a = a.checked_add(*b).unwrap_or_else(|| {
                        self.overflow = Some("stops in one month, district and group");
                        u32::MAX
                    });
                }
            }
        }
        for (key, light) in other.light {
            let [year, district, stop_type, race] = unpack(key, LIGHT_BITS);
            let key = pack(&[
                (year, 14),
                (districts[district as usize], DISTRICT),
                (stop_type, CODE),
                (race, CODE),
            ]);
            match self.light.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().add(&light),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(light);
                }
            }
        }
        for (day, dusk) in other.dusk {
            self.dusk.entry(day).or_insert(dusk);
        }
    }

    /// The rows of `stop_month_cells` for every month and district this tally counted, each
    /// with the counts of `stored` (the rows an earlier import wrote there) added, in key order.
    fn month_cells(&self, stored: &[(String, String, String)]) -> Result<Vec<MonthCells>, String> {
        let stored: FxHashMap<(&str, &str), &str> = stored
            .iter()
            .map(|(month, district, cells)| ((month.as_str(), district.as_str()), cells.as_str()))
            .collect();
        let mut rows = Vec::with_capacity(self.block_keys.len());
        for (b, (month, district)) in self.block_keys.iter().enumerate() {
            let month = month_name(*month);
            let district = self.districts.name(u64::from(*district));
            let mut cells: Vec<[u64; COUNTS]> = self.counts
                [b * CELLS_PER_BLOCK..(b + 1) * CELLS_PER_BLOCK]
                .iter()
                .map(|c| c.map(u64::from))
                .collect();
            if let Some(text) = stored.get(&(month.as_str(), district)) {
                for line in read_cells(text)? {
                    let cell = cell_named(line.names).ok_or_else(|| {
                        format!(
                            "the analysis store holds a cell of unknown names: {}",
                            line.names.join(",")
                        )
                    })?;
                    for (a, b) in cells[cell].iter_mut().zip(line.counts) {
                        *a += b;
                    }
                }
            }
            let mut text = String::new();
            let mut stops = 0u64;
            for (c, counts) in cells.iter().enumerate() {
                if counts[0] > 0 {
                    stops += counts[0];
                    write_cell(&mut text, cell_names(c), counts);
                }
            }
            let stops = i64::try_from(stops).map_err(|_| "too many stops in one month")?;
            rows.push((month, district.to_string(), stops, text));
        }
        rows.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(rows)
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
        self.write_cells(tx, agency_id).await?;
        self.write_light(tx, agency_id).await
    }

    /// Adds the counts of `stop_month_cells` to what is stored there.
    pub async fn write_cells(&self, tx: &mut Tx, agency_id: i64) -> Result<(), sqlx::Error> {
        let backend = tx.backend();
        // What earlier imports stored for the months and districts counted here: the rows
        // are rewritten whole, with both counts added.
        let months = self.block_keys.iter().map(|(month, _)| *month);
        let stored = match (months.clone().min(), months.max()) {
            (Some(first), Some(last)) => {
                crate::transparency::store::month_cells_in(
                    tx,
                    agency_id,
                    &month_name(first),
                    &month_name(last),
                )
                .await?
            }
            _ => Vec::new(),
        };
        let rows = self
            .month_cells(&stored)
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        for chunk in rows.chunks(MONTH_CELLS_PER_STATEMENT) {
            let sql = format!(
                "{} ON CONFLICT (agency_id, month, district) \
                 DO UPDATE SET stops = excluded.stops, cells = excluded.cells, \
                 format = excluded.format",
                insert_sql(
                    "stop_month_cells",
                    &["month", "district", "stops", "cells", "format"],
                    chunk.len(),
                    backend,
                )
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (month, district, stops, cells) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(month)
                        .bind(district)
                        .bind(*stops)
                        .bind(cells)
                        .bind(CELLS_FORMAT);
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        Ok(())
    }

    /// Adds the veil-of-darkness counts (`stop_light`, `stop_dusk`) to what is stored.
    async fn write_light(self, tx: &mut Tx, agency_id: i64) -> Result<(), sqlx::Error> {
        let backend = tx.backend();
        let districts = &self.districts;
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
                stop_type_name(stop_type).to_string(),
                race_name(race).to_string(),
            );
            let mut merged = stored.remove(&key).unwrap_or_default();
            merged.add(light);
            rows.push((key, merged));
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in rows.chunks(LIGHT_ROWS_PER_STATEMENT) {
            let sql = format!(
                "{} ON CONFLICT (agency_id, year, district, stop_type, subject_race) \
                 DO UPDATE SET minutes = excluded.minutes, days = excluded.days",
                insert_sql(
                    "stop_light",
                    &[
                        "year",
                        "district",
                        "stop_type",
                        "subject_race",
                        "minutes",
                        "days"
                    ],
                    chunk.len(),
                    backend,
                )
            );
            on_tx!(tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for ((year, district, stop_type, race), light) in chunk {
                    q = q
                        .bind(agency_id)
                        .bind(year)
                        .bind(district)
                        .bind(stop_type)
                        .bind(race)
                        .bind(crate::transparency::store::counts_to_blob(&light.minutes))
                        .bind(crate::transparency::store::counts_to_blob(&light.days));
                }
                q.execute(&mut **c).await.map(|_| ())
            })?;
        }
        Ok(())
    }
}

/// Rows per statement of small rows.
const ROWS_PER_STATEMENT: usize = 500;

/// Rows of `stop_month_cells` per statement: each holds a few kilobytes of text.
const MONTH_CELLS_PER_STATEMENT: usize = 50;

/// Rows of `stop_light` per statement: each holds 13 kilobytes of counts.
const LIGHT_ROWS_PER_STATEMENT: usize = 50;

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
    fn the_store_names_what_the_stops_say() {
        assert_eq!(race_name(u64::from(UNKNOWN_RACE)), "unknown");
        for age in -1..130 {
            let group = age_group(Some(age));
            let index = age_index(Some(age)) as usize;
            assert_eq!(AGE_GROUPS[index - 1], group, "{age}");
        }
        assert_eq!(age_index(None), 0);
        assert_eq!((stop_type_name(0), sex_name(0)), ("", ""));
        assert_eq!((stop_type_name(1), sex_name(2)), ("vehicular", "female"));
    }

    /// Two threads' tallies of the halves of some stops, added together, are one tally of
    /// them all, whichever districts each met first.
    #[test]
    fn tallies_add_up() {
        use crate::transparency::chunks::ChunkBuilder;
        use crate::transparency::model::StopRef;
        let date = |d: u32| chrono::NaiveDate::from_ymd_opt(2020, 1 + d % 12, 1 + d % 28).unwrap();
        let districts = ["A", "B", "C", "D"];
        let stops: Vec<StopRef> = (0..400u32)
            .map(|i| StopRef {
                date: date(i),
                time: chrono::NaiveTime::from_hms_opt(i % 24, i % 60, 0),
                district: (i % 5 != 0).then(|| districts[(i as usize * 7) % 4]),
                subject_race: (i % 7 != 0).then_some((i % 6) as u8),
                subject_sex: (i % 3 != 0).then_some((i % 2) as u8),
                stop_type: Some((i % 2) as u8),
                subject_age: Some(i64::from(i % 90)),
                search_conducted: Some(i % 4 == 0),
                contraband_found: (i % 8 == 0).then_some(i % 16 == 0),
                ..Default::default()
            })
            .collect();
        let tally_of = |stops: &[StopRef]| {
            let mut chunk = ChunkBuilder::default();
            for s in stops {
                chunk.push(s, Some(1000), Some(1030));
            }
            let mut t = Tally::default();
            t.count_chunk(&chunk.counted());
            t
        };
        let whole = tally_of(&stops);
        // The second half meets the districts in another order.
        let mut second: Vec<StopRef> = stops[200..].to_vec();
        second.reverse();
        let mut sum = tally_of(&second);
        sum.absorb(tally_of(&stops[..200]));
        let named = |t: &Tally| {
            let cells = t.month_cells(&[]).unwrap();
            let mut light: Vec<_> = t
                .light
                .iter()
                .map(|(k, v)| {
                    let mut parts = unpack(*k, LIGHT_BITS);
                    let district = t.districts.name(parts[1]).to_string();
                    parts[1] = 0;
                    (parts, district, v.minutes.clone(), v.days.clone())
                })
                .collect();
            light.sort();
            let mut dusk: Vec<_> = t.dusk.iter().map(|(a, b)| (*a, *b)).collect();
            dusk.sort();
            (cells, light, dusk)
        };
        assert_eq!(named(&sum), named(&whole));
        let rows = whole.month_cells(&[]).unwrap();
        let lines: Vec<CellLine> = rows
            .iter()
            .flat_map(|r| read_cells(&r.3).unwrap())
            .collect();
        assert!(lines.len() > 50, "the stops fall in many cells");
        assert_eq!(lines.iter().map(|l| l.counts[0]).sum::<u64>(), 400);
        assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 400);

        // Stored by one import, then added to by another: the rows the second rewrites,
        // over those the first wrote, are the rows of one import of them all.
        let first = tally_of(&stops[..150]).month_cells(&[]).unwrap();
        let stored: Vec<(String, String, String)> = first
            .iter()
            .map(|(m, d, _, c)| (m.clone(), d.clone(), c.clone()))
            .collect();
        let second = tally_of(&stops[150..]).month_cells(&stored).unwrap();
        let mut merged: std::collections::BTreeMap<_, _> = first
            .into_iter()
            .map(|(m, d, n, c)| ((m, d), (n, c)))
            .collect();
        merged.extend(second.into_iter().map(|(m, d, n, c)| ((m, d), (n, c))));
        let merged: Vec<_> = merged
            .into_iter()
            .map(|((m, d), (n, c))| (m, d, n, c))
            .collect();
        assert_eq!(merged, rows);
    }

    #[test]
    fn cells_read_back_as_written_and_bad_ones_are_named() {
        let mut text = String::new();
        let counts = [12, 3, 2, 1, 2, 1, 0, 4, 5, 6, 1, 12, 0, 2, 3, 1];
        write_cell(&mut text, ["", "white", "", "under 18"], &counts);
        write_cell(
            &mut text,
            ["vehicular", "black", "female", "65 and over"],
            &[1; COUNTS],
        );
        assert_eq!(
            text,
            ",white,,under 18,12,3,2,1,2,1,0,4,5,6,1,12,0,2,3,1\nvehicular,black,female,65 and over,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
        );
        let lines = read_cells(&text).unwrap();
        assert_eq!(lines[0].names, ["", "white", "", "under 18"]);
        assert_eq!(lines[0].counts, counts);
        for line in &lines {
            let cell = cell_named(line.names).unwrap();
            assert_eq!(cell_names(cell), line.names);
        }
        assert_eq!(cell_named(["bicycle", "white", "", ""]), None);
        for bad in [
            "vehicular,white,,,1,2",
            "vehicular,white,,,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,x",
            "a,b,c,d,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
            // Format 1's ten counts are not read as format 2.
            "vehicular,white,,,1,1,1,1,1,1,1,1,1,1",
        ] {
            let e = read_cells(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(read_cells("").unwrap(), vec![]);
    }

    #[test]
    fn keys_unpack_to_what_was_packed() {
        let mut places = std::collections::HashSet::new();
        for stop_type in 0..3 {
            for race in 0..6 {
                for sex in 0..3 {
                    for age in 0..8 {
                        let cell = cell_in_block(stop_type, race, sex, age);
                        assert!(cell < CELLS_PER_BLOCK && places.insert(cell));
                        assert_eq!(cell_parts(cell), [stop_type, race, sex, age]);
                        assert_eq!(cell_named(cell_names(cell)), Some(cell));
                    }
                }
            }
        }
        let parts = [(9999, 14), (3, 16), (2, 8), (255, 8)];
        assert_eq!(parts.map(|(_, b)| b), LIGHT_BITS);
        assert_eq!(unpack(pack(&parts), LIGHT_BITS), parts.map(|(v, _)| v));
    }

    #[test]
    fn inserts_are_numbered_for_postgres_and_dusk_is_kept() {
        let sql = insert_sql(
            "stop_month_cells",
            &["month", "cells"],
            2,
            Backend::Postgres,
        );
        assert_eq!(
            sql,
            "INSERT INTO stop_month_cells (agency_id, month, cells) VALUES ($1,$2,$3),($4,$5,$6)"
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
