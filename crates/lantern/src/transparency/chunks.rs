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
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::transparency::import::PreparedStop;
use crate::transparency::model::StopRecord;

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

/// Builds a [`Texts`], remembering which values it has.
#[derive(Debug, Default)]
struct TextsBuilder {
    texts: Texts,
    index: FxHashMap<String, u32>,
}

impl TextsBuilder {
    fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => 0,
            Some(v) => match self.index.get(v) {
                Some(code) => *code,
                None => {
                    self.texts.values.push(v.to_string());
                    let code = self.texts.values.len() as u32;
                    self.index.insert(v.to_string(), code);
                    code
                }
            },
        };
        self.texts.codes.push(code);
    }
}

impl Texts {
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

fn flags(r: &StopRecord) -> u16 {
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

fn flag(flags: u16, i: usize) -> Option<bool> {
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
    keys: Vec<u8>,
    columns: Columns,
    source_id: TextsBuilder,
    location: TextsBuilder,
    district: TextsBuilder,
    subject_race: TextsBuilder,
    subject_sex: TextsBuilder,
    officer_id: TextsBuilder,
    stop_type: TextsBuilder,
    reason_for_stop: TextsBuilder,
    outcome: TextsBuilder,
    search_basis: TextsBuilder,
}

/// An encoded chunk, ready to store.
#[derive(Debug)]
pub struct EncodedChunk {
    pub rows: i64,
    pub keys: Vec<u8>,
    pub data: Vec<u8>,
}

impl ChunkBuilder {
    pub fn len(&self) -> usize {
        self.columns.date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a stop, stored under `key`.
    pub fn push(&mut self, p: &PreparedStop, key: u128) {
        let r = &p.record;
        let c = &mut self.columns;
        self.keys.extend_from_slice(&key.to_le_bytes());
        c.date.push(chrono::Datelike::num_days_from_ce(&r.date));
        c.time
            .push(r.time.map_or(0, |t| t.num_seconds_from_midnight() + 1));
        c.sunset.push(minute_plus_one(p.sunset_minute));
        c.dusk.push(minute_plus_one(p.dusk_minute));
        c.lat.push(r.lat);
        c.lng.push(r.lng);
        c.subject_age.push(r.subject_age);
        c.flags.push(flags(r));
        self.source_id.push(r.source_id.as_deref());
        self.location.push(r.location.as_deref());
        self.district.push(r.district.as_deref());
        self.subject_race.push(r.subject_race.as_deref());
        self.subject_sex.push(r.subject_sex.as_deref());
        self.officer_id.push(r.officer_id.as_deref());
        self.stop_type.push(r.stop_type.as_deref());
        self.reason_for_stop.push(r.reason_for_stop.as_deref());
        self.outcome.push(r.outcome.as_deref());
        self.search_basis.push(r.search_basis.as_deref());
    }

    /// Serialises and compresses the chunk (a few tens of milliseconds for a full one: run it
    /// off the async threads).
    pub fn encode(self) -> EncodedChunk {
        let mut c = self.columns;
        c.source_id = self.source_id.texts;
        c.location = self.location.texts;
        c.district = self.district.texts;
        c.subject_race = self.subject_race.texts;
        c.subject_sex = self.subject_sex.texts;
        c.officer_id = self.officer_id.texts;
        c.stop_type = self.stop_type.texts;
        c.reason_for_stop = self.reason_for_stop.texts;
        c.outcome = self.outcome.texts;
        c.search_basis = self.search_basis.texts;
        let rows = c.date.len() as i64;
        let plain = postcard::to_allocvec(&c).expect("serialising into memory cannot fail");
        EncodedChunk {
            rows,
            keys: self.keys,
            data: lz4_flex::block::compress_prepend_size(&plain),
        }
    }
}

/// The row keys of a chunk's `keys` value.
pub fn decode_keys(keys: &[u8]) -> impl Iterator<Item = u128> + '_ {
    keys.chunks_exact(16)
        .map(|k| u128::from_le_bytes(k.try_into().expect("16 bytes")))
}

/// The stops of one chunk, in the order they were written. Fails (naming what is wrong)
/// rather than returning wrong stops when the stored value is damaged or of another format.
pub fn decode(
    format: i64,
    rows: i64,
    keys: &[u8],
    data: &[u8],
) -> Result<Vec<PreparedStop>, String> {
    if format != FORMAT {
        return Err(format!(
            "stop chunk format {format} is not one this version reads ({FORMAT})"
        ));
    }
    let plain = lz4_flex::block::decompress_size_prepended(data)
        .map_err(|e| format!("stop chunk does not decompress: {e}"))?;
    let c: Columns =
        postcard::from_bytes(&plain).map_err(|e| format!("stop chunk does not decode: {e}"))?;
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
        out.push(PreparedStop {
            stop_minute: time.map(|t| i64::from(t.hour() * 60 + t.minute())),
            record,
            row_key,
            by_content: false,
            sunset_minute: minute(c.sunset[i]),
            dusk_minute: minute(c.dusk[i]),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(i: u32) -> PreparedStop {
        let time = (!i.is_multiple_of(3))
            .then(|| NaiveTime::from_hms_opt(i % 24, i % 60, i % 59).unwrap());
        PreparedStop {
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
            by_content: true,
            stop_minute: time.map(|t| i64::from(t.hour() * 60 + t.minute())),
            sunset_minute: (!i.is_multiple_of(10)).then_some(1180 + i64::from(i % 50)),
            dusk_minute: (!i.is_multiple_of(10)).then_some(1210 + i64::from(i % 50)),
        }
    }

    #[test]
    fn a_chunk_gives_back_every_stop_as_written() {
        let stops: Vec<PreparedStop> = (0..1000).map(stop).collect();
        let mut b = ChunkBuilder::default();
        for s in &stops {
            b.push(s, s.row_key);
        }
        let e = b.encode();
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
    fn damaged_or_foreign_chunks_are_refused() {
        let mut b = ChunkBuilder::default();
        b.push(&stop(1), 1);
        b.push(&stop(2), 2);
        let e = b.encode();
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
