//! How stops are stored: in chunks of up to [`CHUNK_ROWS`] stops of one import, column by
//! column, one database row per chunk (`stop_chunks`).
//!
//! Why not a row per stop: nothing reads stops one at a time. The analyses read the analysis
//! store, which the import counts in memory; what reads stops (tests, exports) reads them
//! all. A row per stop with a unique key index cost 20 s per million stops on SQLite, almost
//! all of it B-tree inserts and the write-ahead log; a chunk of 65,536 stops is one insert of
//! a few hundred kilobytes.
//!
//! A chunk is two values: the row keys (16 bytes each, in row order, uncompressed, so that an
//! import can load every key of the agency quickly to skip stops already stored), and the
//! columns ([`Columns`], serialised with postcard and compressed with LZ4). Texts are
//! dictionary-coded per chunk, so a district or a race is stored once per chunk.
//! `stop_chunks.format` names the encoding; this is format 1.

use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::transparency::import::StoredStop;
use crate::transparency::model::{
    OUTCOMES, RACES, SEARCH_BASES, SEXES, STOP_TYPES, StopRecord, StopRef, category_code,
};
#[cfg(doc)]
use crate::transparency::tally::Tally;

/// Stops per chunk.
pub const CHUNK_ROWS: usize = 65_536;

/// The encoding of [`Columns`] this code writes and reads.
pub const FORMAT: i64 = 1;

/// One text column: the distinct values, and each row's value as an index into them plus
/// one (0: the source did not say).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Texts {
    values: Vec<String>,
    codes: Vec<u32>,
}

/// Which values a [`Texts`] of free text has: each value's code, hashed by the value, so that
/// a value is stored (and allocated) once.
#[derive(Default)]
struct TextIndex(hashbrown::HashTable<u32>);

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextIndex({} values)", self.0.len())
    }
}

fn text_hash(text: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(text)
}

impl TextIndex {
    fn push(&mut self, texts: &mut Texts, value: Option<&str>) {
        let code = match value {
            None => 0,
            Some(v) => {
                let values = &mut texts.values;
                let hash = text_hash(v);
                match self.0.find(hash, |code| values[*code as usize - 1] == v) {
                    Some(code) => *code,
                    None => {
                        values.push(v.to_string());
                        let code = values.len() as u32;
                        self.0.insert_unique(hash, code, |code| {
                            text_hash(&values[*code as usize - 1])
                        });
                        code
                    }
                }
            }
        };
        texts.codes.push(code);
    }
}

/// Which categories a [`Texts`] of a coded field has, by category index (see [`StopRef`]):
/// no text is hashed or compared.
#[derive(Debug, Default)]
struct CategoryIndex {
    /// Each category's code in this chunk, 0 until it occurs.
    code_of: [u32; 8],
}

impl CategoryIndex {
    fn push(&mut self, texts: &mut Texts, categories: &[&str], value: Option<u8>) {
        let code = match value {
            None => 0,
            Some(c) => {
                let slot = &mut self.code_of[usize::from(c)];
                if *slot == 0 {
                    texts.values.push(categories[usize::from(c)].to_string());
                    *slot = texts.values.len() as u32;
                }
                *slot
            }
        };
        texts.codes.push(code);
    }
}

impl Texts {
    /// Each value's index in `categories` (`None` for a value not among them), by code − 1.
    fn categories(&self, categories: &[&str]) -> Vec<Option<u8>> {
        self.values
            .iter()
            .map(|v| category_code(categories, v))
            .collect()
    }

    fn get(&self, row: usize) -> Result<Option<String>, String> {
        match self.codes.get(row) {
            Some(0) => Ok(None),
            Some(code) => self
                .values
                .get(*code as usize - 1)
                .map(|v| Some(v.clone()))
                .ok_or_else(|| format!("text code {code} out of range")),
            None => Err(format!("text column has no row {row}")),
        }
    }
}

/// The columns of one chunk. Numbers that may be missing are stored plus one, with 0 for
/// missing; the six yes/no fields share one number per row, two bits each (0 missing, 1 no,
/// 2 yes).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Columns {
    /// Days since 1 January of year 1 (chrono's `num_days_from_ce`).
    date: Vec<i32>,
    /// Seconds since local midnight, plus one.
    time: Vec<u32>,
    /// That date's sunset and dusk at the agency's centre point, minutes since midnight plus one.
    sunset: Vec<u16>,
    dusk: Vec<u16>,
    lat: Vec<Option<f64>>,
    lng: Vec<Option<f64>>,
    subject_age: Vec<Option<i64>>,
    flags: Vec<u16>,
    source_id: Texts,
    location: Texts,
    district: Texts,
    subject_race: Texts,
    subject_sex: Texts,
    officer_id: Texts,
    stop_type: Texts,
    reason_for_stop: Texts,
    outcome: Texts,
    search_basis: Texts,
}

impl Columns {
    /// Calls `each` with every column's row values: what keeps, clears or reserves rows.
    fn each_column(&mut self, mut each: impl FnMut(&mut dyn RowValues)) {
        each(&mut self.date);
        each(&mut self.time);
        each(&mut self.sunset);
        each(&mut self.dusk);
        each(&mut self.lat);
        each(&mut self.lng);
        each(&mut self.subject_age);
        each(&mut self.flags);
        for texts in self.texts_mut() {
            each(&mut texts.codes);
        }
    }

    fn texts_mut(&mut self) -> [&mut Texts; 10] {
        [
            &mut self.source_id,
            &mut self.location,
            &mut self.district,
            &mut self.subject_race,
            &mut self.subject_sex,
            &mut self.officer_id,
            &mut self.stop_type,
            &mut self.reason_for_stop,
            &mut self.outcome,
            &mut self.search_basis,
        ]
    }
}

/// A column's values, one a row, of whatever type.
trait RowValues {
    fn reserve_rows(&mut self, rows: usize);
    fn retain_rows(&mut self, keep: &[bool]);
    fn clear_rows(&mut self);
}

impl<T> RowValues for Vec<T> {
    fn reserve_rows(&mut self, rows: usize) {
        self.reserve(rows);
    }

    fn retain_rows(&mut self, keep: &[bool]) {
        let mut i = 0;
        self.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    fn clear_rows(&mut self) {
        self.clear();
    }
}

fn flags(r: &StopRef) -> u16 {
    [
        r.arrest_made,
        r.citation_issued,
        r.warning_issued,
        r.frisk_performed,
        r.search_conducted,
        r.contraband_found,
    ]
    .iter()
    .enumerate()
    .fold(0, |acc, (i, b)| {
        let v = match b {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        acc | (v << (2 * i))
    })
}

/// The `i`-th yes/no field of packed `flags`: arrest made, citation issued, warning issued,
/// frisk performed, search conducted, contraband found.
pub fn flag(flags: u16, i: usize) -> Option<bool> {
    match (flags >> (2 * i)) & 3 {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

fn minute_plus_one(m: Option<i64>) -> u16 {
    m.map_or(0, |m| m.clamp(0, 1439) as u16 + 1)
}

/// Collects the stops of one chunk, then encodes them.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    columns: Columns,
    source_id: TextIndex,
    location: TextIndex,
    district: TextIndex,
    subject_race: CategoryIndex,
    subject_sex: CategoryIndex,
    officer_id: TextIndex,
    stop_type: CategoryIndex,
    reason_for_stop: TextIndex,
    outcome: CategoryIndex,
    search_basis: CategoryIndex,
    /// The serialised columns before compression, kept for the next chunk.
    plain: Vec<u8>,
}

/// An encoded chunk, ready to store.
#[derive(Debug)]
pub struct EncodedChunk {
    pub rows: i64,
    pub keys: Vec<u8>,
    pub data: Vec<u8>,
}

impl ChunkBuilder {
    /// A builder with room for `rows` stops.
    pub fn with_capacity(rows: usize) -> ChunkBuilder {
        let mut b = ChunkBuilder::default();
        b.columns.each_column(|c| c.reserve_rows(rows));
        b
    }

    pub fn len(&self) -> usize {
        self.columns.date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a stop, with its date's sunset and dusk (minutes after midnight).
    pub fn push(&mut self, r: &StopRef, sunset: Option<i64>, dusk: Option<i64>) {
        let c = &mut self.columns;
        c.date.push(chrono::Datelike::num_days_from_ce(&r.date));
        c.time
            .push(r.time.map_or(0, |t| t.num_seconds_from_midnight() + 1));
        c.sunset.push(minute_plus_one(sunset));
        c.dusk.push(minute_plus_one(dusk));
        c.lat.push(r.lat);
        c.lng.push(r.lng);
        c.subject_age.push(r.subject_age);
        c.flags.push(flags(r));
        self.source_id.push(&mut c.source_id, r.source_id);
        self.location.push(&mut c.location, r.location);
        self.district.push(&mut c.district, r.district);
        self.subject_race
            .push(&mut c.subject_race, &RACES, r.subject_race);
        self.subject_sex
            .push(&mut c.subject_sex, &SEXES, r.subject_sex);
        self.officer_id.push(&mut c.officer_id, r.officer_id);
        self.stop_type
            .push(&mut c.stop_type, &STOP_TYPES, r.stop_type);
        self.reason_for_stop
            .push(&mut c.reason_for_stop, r.reason_for_stop);
        self.outcome.push(&mut c.outcome, &OUTCOMES, r.outcome);
        self.search_basis
            .push(&mut c.search_basis, &SEARCH_BASES, r.search_basis);
    }

    /// Keeps only the stops whose place in `keep` is true (the others are already stored).
    /// Texts no kept stop uses stay in the chunk's dictionaries, unreferenced.
    pub fn retain(&mut self, keep: &[bool]) {
        debug_assert_eq!(keep.len(), self.len());
        self.columns.each_column(|c| c.retain_rows(keep));
    }

    /// The chunk's stops as the analysis store counts them.
    pub fn counted(&self) -> Counted<'_> {
        counted(&self.columns)
    }
}

fn counted(c: &Columns) -> Counted<'_> {
    fn coded<'a>(texts: &'a Texts, categories: &[&str]) -> (&'a [u32], Vec<Option<u8>>) {
        (&texts.codes, texts.categories(categories))
    }
    Counted {
        districts: &c.district.values,
        columns: c,
        district: &c.district.codes,
        race: coded(&c.subject_race, &RACES),
        sex: coded(&c.subject_sex, &SEXES),
        stop_type: coded(&c.stop_type, &STOP_TYPES),
        outcome: coded(&c.outcome, &OUTCOMES),
        search_basis: coded(&c.search_basis, &SEARCH_BASES),
    }
}

impl ChunkBuilder {
    /// Serialises and compresses the chunk, its stops stored under `keys` (one each, in
    /// order), and empties the builder for the next chunk, keeping its memory: filling fresh
    /// memory for every chunk cost the kernel as much time as compressing them.
    pub fn encode(&mut self, keys: &[u128]) -> EncodedChunk {
        assert_eq!(keys.len(), self.len(), "one key for each stop of a chunk");
        let rows = self.len() as i64;
        // Sized for the columns at once rather than grown (and moved) as they are written.
        let c = &self.columns;
        let texts: usize = [
            &c.source_id,
            &c.location,
            &c.district,
            &c.officer_id,
            &c.reason_for_stop,
        ]
        .iter()
        .map(|t| t.values.iter().map(|v| v.len() + 2).sum::<usize>())
        .sum();
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        plain.reserve(texts + c.date.len() * 64 + 1024);
        let plain = postcard::to_extend(c, plain).expect("serialising into memory cannot fail");
        let data = lz4_flex::block::compress_prepend_size(&plain);
        self.plain = plain;
        self.clear();
        EncodedChunk {
            rows,
            keys: {
                let mut bytes = Vec::with_capacity(keys.len() * 16);
                for k in keys {
                    bytes.extend_from_slice(&k.to_le_bytes());
                }
                bytes
            },
            data,
        }
    }

    /// Empties the builder, keeping its memory.
    pub fn clear(&mut self) {
        self.columns.each_column(|c| c.clear_rows());
        for texts in self.columns.texts_mut() {
            texts.values.clear();
        }
        for index in [
            &mut self.source_id,
            &mut self.location,
            &mut self.district,
            &mut self.officer_id,
            &mut self.reason_for_stop,
        ] {
            index.0.clear();
        }
        for index in [
            &mut self.subject_race,
            &mut self.subject_sex,
            &mut self.stop_type,
            &mut self.outcome,
            &mut self.search_basis,
        ] {
            index.code_of = [0; 8];
        }
    }
}

/// A chunk's stops, read for counting: see [`Tally::count_chunk`].
pub struct Counted<'a> {
    /// The chunk's districts: a stop's district code is an index into them plus one.
    pub districts: &'a [String],
    columns: &'a Columns,
    district: &'a [u32],
    race: (&'a [u32], Vec<Option<u8>>),
    sex: (&'a [u32], Vec<Option<u8>>),
    stop_type: (&'a [u32], Vec<Option<u8>>),
    outcome: (&'a [u32], Vec<Option<u8>>),
    search_basis: (&'a [u32], Vec<Option<u8>>),
}

/// One stop as the analysis store counts it.
#[derive(Clone, Copy, Debug)]
pub struct CountedStop {
    /// Days since 1 January of year 1.
    pub day: i32,
    /// Minute of the day, when the stop has a clock time.
    pub minute: Option<i64>,
    pub sunset: Option<i64>,
    pub dusk: Option<i64>,
    /// Index into [`Counted::districts`] plus one; 0 when the source did not say.
    pub district: u32,
    /// Category indexes, as [`StopRef`] has them.
    pub race: Option<u8>,
    pub sex: Option<u8>,
    pub stop_type: Option<u8>,
    pub outcome: Option<u8>,
    pub search_basis: Option<u8>,
    pub age: Option<i64>,
    /// The yes/no fields, packed (see [`flag`]).
    pub flags: u16,
}

impl Counted<'_> {
    pub fn len(&self) -> usize {
        self.columns.date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> CountedStop {
        fn category((codes, categories): &(&[u32], Vec<Option<u8>>), i: usize) -> Option<u8> {
            match codes[i] {
                0 => None,
                code => categories[code as usize - 1],
            }
        }
        let c = self.columns;
        let minute = |m: u16| (m > 0).then(|| i64::from(m) - 1);
        CountedStop {
            day: c.date[i],
            minute: (c.time[i] > 0).then(|| i64::from((c.time[i] - 1) / 60)),
            sunset: minute(c.sunset[i]),
            dusk: minute(c.dusk[i]),
            district: self.district[i],
            race: category(&self.race, i),
            sex: category(&self.sex, i),
            stop_type: category(&self.stop_type, i),
            outcome: category(&self.outcome, i),
            search_basis: category(&self.search_basis, i),
            age: c.subject_age[i],
            flags: c.flags[i],
        }
    }
}

/// The row keys of a chunk's `keys` value.
pub fn decode_keys(keys: &[u8]) -> impl Iterator<Item = u128> + '_ {
    keys.chunks_exact(16)
        .map(|k| u128::from_le_bytes(k.try_into().expect("16 bytes")))
}

/// A stored chunk's columns, read back to be counted again (the analysis store rebuilt from
/// the chunks when its format changes).
pub struct StoredColumns(Columns);

impl StoredColumns {
    /// Decodes a stored chunk's `data`; fails (naming what is wrong) on a damaged value or
    /// one of another format.
    pub fn decode(format: i64, rows: i64, data: &[u8]) -> Result<StoredColumns, String> {
        let c = columns(format, data)?;
        if c.date.len() != rows as usize || c.flags.len() != rows as usize {
            return Err(format!(
                "stop chunk columns do not all have its {rows} rows"
            ));
        }
        Ok(StoredColumns(c))
    }

    pub fn counted(&self) -> Counted<'_> {
        counted(&self.0)
    }
}

fn columns(format: i64, data: &[u8]) -> Result<Columns, String> {
    if format != FORMAT {
        return Err(format!(
            "stop chunk format {format} is not one this version reads ({FORMAT})"
        ));
    }
    let plain = lz4_flex::block::decompress_size_prepended(data)
        .map_err(|e| format!("stop chunk does not decompress: {e}"))?;
    postcard::from_bytes(&plain).map_err(|e| format!("stop chunk does not decode: {e}"))
}

/// The stops of one chunk, in the order they were written. Fails (naming what is wrong)
/// rather than returning wrong stops when the stored value is damaged or of another format.
pub fn decode(format: i64, rows: i64, keys: &[u8], data: &[u8]) -> Result<Vec<StoredStop>, String> {
    let c = columns(format, data)?;
    let n = rows as usize;
    let lengths = [
        c.date.len(),
        c.time.len(),
        c.sunset.len(),
        c.dusk.len(),
        c.lat.len(),
        c.lng.len(),
        c.subject_age.len(),
        c.flags.len(),
        keys.len() / 16,
    ];
    if lengths.iter().any(|l| *l != n) || !keys.len().is_multiple_of(16) {
        return Err(format!(
            "stop chunk columns do not all have its {n} rows: {lengths:?}"
        ));
    }
    let minute = |m: u16| (m > 0).then(|| i64::from(m) - 1);
    let mut out = Vec::with_capacity(n);
    for (i, row_key) in decode_keys(keys).enumerate() {
        let date = NaiveDate::from_num_days_from_ce_opt(c.date[i])
            .ok_or_else(|| format!("stop chunk row {i}: day {} is not a date", c.date[i]))?;
        let time = match c.time[i] {
            0 => None,
            s => Some(
                NaiveTime::from_num_seconds_from_midnight_opt(s - 1, 0)
                    .ok_or_else(|| format!("stop chunk row {i}: {s} is not a time"))?,
            ),
        };
        let f = c.flags[i];
        let record = StopRecord {
            source_id: c.source_id.get(i)?,
            date,
            time,
            location: c.location.get(i)?,
            lat: c.lat[i],
            lng: c.lng[i],
            district: c.district.get(i)?,
            subject_race: c.subject_race.get(i)?,
            subject_sex: c.subject_sex.get(i)?,
            subject_age: c.subject_age[i],
            officer_id: c.officer_id.get(i)?,
            stop_type: c.stop_type.get(i)?,
            reason_for_stop: c.reason_for_stop.get(i)?,
            outcome: c.outcome.get(i)?,
            arrest_made: flag(f, 0),
            citation_issued: flag(f, 1),
            warning_issued: flag(f, 2),
            frisk_performed: flag(f, 3),
            search_conducted: flag(f, 4),
            search_basis: c.search_basis.get(i)?,
            contraband_found: flag(f, 5),
        };
        out.push(StoredStop {
            stop_minute: time.map(|t| i64::from(t.hour() * 60 + t.minute())),
            record,
            row_key,
            sunset_minute: minute(c.sunset[i]),
            dusk_minute: minute(c.dusk[i]),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(i: u32) -> StoredStop {
        let time = (!i.is_multiple_of(3))
            .then(|| NaiveTime::from_hms_opt(i % 24, i % 60, i % 59).unwrap());
        StoredStop {
            record: StopRecord {
                source_id: i.is_multiple_of(2).then(|| format!("row-{i}")),
                date: NaiveDate::from_ymd_opt(2015 + (i % 4) as i32, 1 + i % 12, 1 + i % 28)
                    .unwrap(),
                time,
                location: (!i.is_multiple_of(5)).then(|| format!("{} MARKET ST", i % 7)),
                lat: (!i.is_multiple_of(4)).then_some(39.9 + f64::from(i) * 1e-6),
                lng: (i % 4 != 1).then_some(-75.1 - f64::from(i) * 1e-6),
                district: Some(format!("D{}", i % 6)),
                subject_race: ["white", "black", "hispanic"]
                    .get((i % 4) as usize)
                    .map(|s| s.to_string()),
                subject_sex: (i % 3 == 1).then(|| "female".to_string()),
                subject_age: (!i.is_multiple_of(6)).then_some(i64::from(16 + i % 70)),
                officer_id: Some(format!("{:x}", i % 97)),
                stop_type: Some("vehicular".into()),
                reason_for_stop: (i % 2 == 1).then(|| "speeding, 10+ over".into()),
                outcome: None,
                arrest_made: [None, Some(false), Some(true)][(i % 3) as usize],
                citation_issued: Some(i.is_multiple_of(2)),
                warning_issued: None,
                frisk_performed: Some(true),
                search_conducted: [Some(true), None][(i % 2) as usize],
                search_basis: i.is_multiple_of(7).then(|| "consent".into()),
                contraband_found: Some(false),
            },
            row_key: u128::from(i) << 64 | u128::from(i * 7),
            stop_minute: time.map(|t| i64::from(t.hour() * 60 + t.minute())),
            sunset_minute: (!i.is_multiple_of(10)).then_some(1180 + i64::from(i % 50)),
            dusk_minute: (!i.is_multiple_of(10)).then_some(1210 + i64::from(i % 50)),
        }
    }

    fn build(stops: &[StoredStop]) -> ChunkBuilder {
        let mut b = ChunkBuilder::default();
        for s in stops {
            b.push(&s.record.as_ref().unwrap(), s.sunset_minute, s.dusk_minute);
        }
        b
    }

    fn keys(stops: &[StoredStop]) -> Vec<u128> {
        stops.iter().map(|s| s.row_key).collect()
    }

    #[test]
    fn a_chunk_gives_back_every_stop_as_written() {
        let stops: Vec<StoredStop> = (0..1000).map(stop).collect();
        let e = build(&stops).encode(&keys(&stops));
        assert_eq!(e.rows, 1000);
        assert_eq!(e.keys.len(), 16_000);
        let back = decode(FORMAT, e.rows, &e.keys, &e.data).unwrap();
        assert_eq!(back.len(), stops.len());
        for (a, b) in stops.iter().zip(&back) {
            assert_eq!(a.record, b.record);
            assert_eq!(
                (a.row_key, a.stop_minute, a.sunset_minute, a.dusk_minute),
                (b.row_key, b.stop_minute, b.sunset_minute, b.dusk_minute)
            );
        }
        // Dictionary coding: repeated texts are stored once, so a thousand stops take little.
        assert!(e.data.len() < 40_000, "{} bytes", e.data.len());
    }

    #[test]
    fn a_chunk_keeps_the_stops_it_is_told_to_and_counts_what_it_keeps() {
        let stops: Vec<StoredStop> = (0..300).map(stop).collect();
        let keep: Vec<bool> = (0..300).map(|i| i % 3 != 1).collect();
        let kept: Vec<StoredStop> = stops
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| s.clone())
            .collect();
        let mut b = build(&stops);
        b.retain(&keep);
        assert_eq!(b.len(), kept.len());
        let counted = b.counted();
        for (i, s) in kept.iter().enumerate() {
            let c = counted.get(i);
            let r = &s.record;
            let district = c
                .district
                .checked_sub(1)
                .map(|d| &counted.districts[d as usize]);
            assert_eq!(district, r.district.as_ref());
            let name =
                |list: &[&str], code: Option<u8>| code.map(|c| list[usize::from(c)].to_string());
            assert_eq!(name(&RACES, c.race), r.subject_race);
            assert_eq!(name(&SEXES, c.sex), r.subject_sex);
            assert_eq!(name(&SEARCH_BASES, c.search_basis), r.search_basis);
            assert_eq!(c.age, r.subject_age);
            assert_eq!(
                (c.minute, c.sunset, c.dusk),
                (s.stop_minute, s.sunset_minute, s.dusk_minute)
            );
            assert_eq!(flag(c.flags, 0), r.arrest_made);
            assert_eq!(flag(c.flags, 4), r.search_conducted);
        }
        let e = b.encode(&keys(&kept));
        let back = decode(FORMAT, e.rows, &e.keys, &e.data).unwrap();
        let records: Vec<_> = back.into_iter().map(|s| s.record).collect();
        let expected: Vec<_> = kept.into_iter().map(|s| s.record).collect();
        assert_eq!(records, expected);
    }

    #[test]
    fn a_builder_used_again_holds_only_its_new_stops() {
        let first: Vec<StoredStop> = (0..500).map(stop).collect();
        let second: Vec<StoredStop> = (500..700).map(stop).collect();
        let mut b = build(&first);
        let e1 = b.encode(&keys(&first));
        assert!(b.is_empty());
        for s in &second {
            b.push(&s.record.as_ref().unwrap(), s.sunset_minute, s.dusk_minute);
        }
        let e2 = b.encode(&keys(&second));
        let back = |e: &EncodedChunk| {
            decode(FORMAT, e.rows, &e.keys, &e.data)
                .unwrap()
                .into_iter()
                .map(|s| (s.row_key, s.record))
                .collect::<Vec<_>>()
        };
        let expect = |stops: &[StoredStop]| {
            stops
                .iter()
                .map(|s| (s.row_key, s.record.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(back(&e1), expect(&first));
        assert_eq!(back(&e2), expect(&second));
        // And encodes as a fresh builder would.
        assert_eq!(e2.data, build(&second).encode(&keys(&second)).data);
    }

    #[test]
    fn damaged_or_foreign_chunks_are_refused() {
        let stops = [stop(1), stop(2)];
        let e = build(&stops).encode(&[1, 2]);
        assert!(
            decode(2, e.rows, &e.keys, &e.data)
                .unwrap_err()
                .contains("format 2")
        );
        assert!(
            decode(FORMAT, 3, &e.keys, &e.data)
                .unwrap_err()
                .contains("3 rows")
        );
        let mut data = e.data.clone();
        data.truncate(data.len() / 2);
        assert!(decode(FORMAT, e.rows, &e.keys, &data).is_err());
    }
}
