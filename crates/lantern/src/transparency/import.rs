//! Importing stop records from a CSV file.
//!
//! One import is one transaction: every valid row is written, the analysis store is brought up
//! to date and the import is recorded in the audit chain together, or nothing is. By default a
//! single invalid value rejects the whole file (the report names each bad line and column);
//! with `skip_invalid` the valid rows go in and the report lists the rows left out.
//!
//! Re-importing is safe: each row gets a key, a 128-bit hash (XXH3) of the source's own row
//! id when the file has one, else of the normalised record and how many identical records came
//! before it in the same file. A row whose key is already stored is counted as a duplicate and
//! skipped, so the same file twice, or overlapping monthly extracts, add each stop once.
//!
//! Parsing (and sun times) run on a blocking thread, feeding batches through a small channel
//! to the writer, which skips stored keys, counts the analysis store and packs the new stops
//! into chunks ([`chunks`](crate::transparency::chunks)); each full chunk is encoded on
//! another blocking thread while the next fills, so reading and writing overlap on two cores.

use std::collections::HashMap;
use std::io::Read;

use chrono::{NaiveDate, Timelike};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::platform::agencies::Agency;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, Tx};
use crate::platform::secrets::hex;
use crate::transparency::chunks::{CHUNK_ROWS, ChunkBuilder, EncodedChunk};
use crate::transparency::mapping::Mapping;
use crate::transparency::model::{ImportReport, MAX_REPORTED_ERRORS, ReportedError, StopRecord};
use crate::transparency::store;
use crate::transparency::tally::Tally;

/// Rows per message from the parser to the writer.
pub const BATCH: usize = 4096;

/// A validated row ready to write.
#[derive(Clone, Debug)]
pub struct PreparedStop {
    pub record: StopRecord,
    /// The row's key: as [`RowKeys`] gave it until written, then as stored.
    pub row_key: u128,
    /// Whether the key hashes the record's content (see [`KeySet::admit`]).
    pub by_content: bool,
    pub stop_minute: Option<i64>,
    pub sunset_minute: Option<i64>,
    pub dusk_minute: Option<i64>,
}

/// Why an import did not complete (invalid rows are not this: they are in the report).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as CSV, or its header does not fit the format.
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Sunset and dusk (minutes after local midnight, suncalc) at the agency's centre point, one
/// computation per date.
pub struct SunCache {
    place: Option<(f64, f64, chrono_tz::Tz)>,
    days: HashMap<NaiveDate, (Option<i64>, Option<i64>)>,
}

impl SunCache {
    pub fn new(agency: &Agency) -> SunCache {
        let place = match (agency.latitude, agency.longitude) {
            (Some(lat), Some(lng)) => Some((lat, lng, agency.tz())),
            _ => None,
        };
        SunCache {
            place,
            days: HashMap::new(),
        }
    }

    pub fn get(&mut self, date: NaiveDate) -> (Option<i64>, Option<i64>) {
        let Some((lat, lng, tz)) = self.place else {
            return (None, None);
        };
        *self.days.entry(date).or_insert_with(|| {
            match stats::sun::sun_times(date, lat, lng, tz) {
                Ok(t) => {
                    let sunset = t.sunset.map(|e| i64::from(e.minutes_since_midnight));
                    let dusk = t.dusk.map(|e| i64::from(e.minutes_since_midnight));
                    // Dusk after local midnight (far north in summer) cannot be compared on one
                    // day's clock: leave the date out of the darkness test.
                    match (sunset, dusk) {
                        (Some(s), Some(d)) if d >= s => (Some(s), Some(d)),
                        _ => (None, None),
                    }
                }
                Err(_) => (None, None),
            }
        })
    }
}

/// Writes the canonical form of a record, which its key hashes, into `out`: each field in a
/// fixed order, as a presence byte and then its value (texts with their length first, so that
/// no two records share a form). Changing it would change every key, so it is written out
/// field by field rather than derived.
fn canonical(r: &StopRecord, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, v: &Option<String>) {
        match v {
            None => out.push(0),
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&(t.len() as u32).to_le_bytes());
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
    fn number(out: &mut Vec<u8>, v: Option<[u8; 8]>) {
        match v {
            None => out.push(0),
            Some(b) => {
                out.push(1);
                out.extend_from_slice(&b);
            }
        }
    }
    fn flag(out: &mut Vec<u8>, v: Option<bool>) {
        out.push(match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
    out.clear();
    out.extend_from_slice(&chrono::Datelike::num_days_from_ce(&r.date).to_le_bytes());
    number(
        out,
        r.time
            .map(|t| u64::from(t.num_seconds_from_midnight()).to_le_bytes()),
    );
    text(out, &r.location);
    number(out, r.lat.map(f64::to_le_bytes));
    number(out, r.lng.map(f64::to_le_bytes));
    text(out, &r.district);
    text(out, &r.subject_race);
    text(out, &r.subject_sex);
    number(out, r.subject_age.map(i64::to_le_bytes));
    text(out, &r.officer_id);
    text(out, &r.stop_type);
    text(out, &r.reason_for_stop);
    text(out, &r.outcome);
    flag(out, r.arrest_made);
    flag(out, r.citation_issued);
    flag(out, r.warning_issued);
    flag(out, r.frisk_performed);
    flag(out, r.search_conducted);
    text(out, &r.search_basis);
    flag(out, r.contraband_found);
}

/// XXH3's 128-bit hash: keys are compared only within one agency's stops, where a collision
/// between two of 100 million stops has a chance of about 10⁻²³, and it costs a tenth of
/// SHA-256 (which was 7% of an import).
fn key_of(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// Gives each row its key before identical rows are told apart (see [`KeySet::admit`]).
#[derive(Default)]
pub struct RowKeys {
    bytes: Vec<u8>,
}

impl RowKeys {
    /// The hash of the source's row id, or of the record's canonical form; and whether the
    /// key is by content (identical rows of one file are then distinct stops).
    pub fn key(&mut self, r: &StopRecord) -> (u128, bool) {
        if let Some(id) = &r.source_id {
            // A form no record's canonical form has: those start with a day number, and the
            // bytes "row " would be a date millions of years away.
            self.bytes.clear();
            self.bytes.extend_from_slice(b"row id\0");
            self.bytes.extend_from_slice(id.as_bytes());
            return (key_of(&self.bytes), false);
        }
        canonical(r, &mut self.bytes);
        (key_of(&self.bytes), true)
    }
}

/// The row keys an import checks its rows against: those of the agency's stored stops, and
/// those the import has met so far.
#[derive(Default)]
pub struct KeySet {
    stored: rustc_hash::FxHashSet<u128>,
    met: rustc_hash::FxHashSet<u128>,
}

impl KeySet {
    pub fn new(stored: rustc_hash::FxHashSet<u128>) -> KeySet {
        KeySet {
            stored,
            met: Default::default(),
        }
    }

    /// The key a row is stored under when it is a new stop, or `None` for a duplicate. A row
    /// keyed by its source id is a duplicate when the id was met before. The n-th of identical
    /// rows keyed by content in one file gets the n-th key derived from the content hash, so
    /// the same file, or an overlapping one, finds each of them stored.
    pub fn admit(&mut self, key: u128, by_content: bool) -> Option<u128> {
        if !by_content {
            return (self.met.insert(key) && !self.stored.contains(&key)).then_some(key);
        }
        let mut candidate = key;
        let mut occurrence = 0u32;
        while !self.met.insert(candidate) {
            occurrence += 1;
            let mut again = [0u8; 20];
            again[..16].copy_from_slice(&key.to_le_bytes());
            again[16..].copy_from_slice(&occurrence.to_le_bytes());
            candidate = key_of(&again);
        }
        (!self.stored.contains(&candidate)).then_some(candidate)
    }
}

/// Turns a record into a row to write.
pub fn prepare(record: StopRecord, keys: &mut RowKeys, sun: &mut SunCache) -> PreparedStop {
    let (row_key, by_content) = keys.key(&record);
    let (sunset_minute, dusk_minute) = sun.get(record.date);
    let stop_minute = record.time.map(|t| i64::from(t.hour() * 60 + t.minute()));
    PreparedStop {
        record,
        row_key,
        by_content,
        stop_minute,
        sunset_minute,
        dusk_minute,
    }
}

enum Msg {
    Batch(Vec<PreparedStop>),
    /// The first invalid row was found: without `skip_invalid`, nothing more is written.
    Invalid,
    Done(Box<ParseSummary>),
    Fatal(String),
}

struct ParseSummary {
    rows_read: u64,
    rows_invalid: u64,
    errors: Vec<ReportedError>,
    more_errors: u64,
    ignored_columns: Vec<String>,
    sha256: String,
}

/// Reads and validates the whole file on the current (blocking) thread, sending batches.
fn parse(
    reader: Box<dyn Read + Send>,
    mapping: Mapping,
    agency: Agency,
    tx: mpsc::Sender<Msg>,
    progress: Option<Box<dyn Fn(u64) + Send>>,
) {
    struct Hashing<R> {
        inner: R,
        hasher: Sha256,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.hasher.update(&buf[..n]);
            Ok(n)
        }
    }
    let hashing = Hashing {
        inner: reader,
        hasher: Sha256::new(),
    };
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(hashing);
    let header = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            let _ = tx.blocking_send(Msg::Fatal(format!("the file is not readable CSV: {e}")));
            return;
        }
    };
    let bound = match mapping.bind(&header) {
        Ok(b) => b,
        Err(e) => {
            let _ = tx.blocking_send(Msg::Fatal(e));
            return;
        }
    };
    let width = header.len();
    let mut keys = RowKeys::default();
    let mut sun = SunCache::new(&agency);
    let mut batch = Vec::with_capacity(BATCH);
    let mut s = ParseSummary {
        rows_read: 0,
        rows_invalid: 0,
        errors: Vec::new(),
        more_errors: 0,
        ignored_columns: bound.ignored.clone(),
        sha256: String::new(),
    };
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let _ = tx.blocking_send(Msg::Fatal(format!(
                    "line {line}: the file is not readable CSV: {e}"
                )));
                return;
            }
        }
        s.rows_read += 1;
        let line = row.position().map_or(s.rows_read + 1, |p| p.line());
        if row.len() != width {
            s.rows_invalid += 1;
            if s.rows_invalid == 1 && tx.blocking_send(Msg::Invalid).is_err() {
                return;
            }
            let e = ReportedError {
                line,
                column: String::new(),
                value: String::new(),
                message: format!("has {} fields; the header has {width}", row.len()),
            };
            if s.errors.len() < MAX_REPORTED_ERRORS {
                s.errors.push(e);
            } else {
                s.more_errors += 1;
            }
            continue;
        }
        match bound.read(&row, line) {
            Ok(record) => {
                batch.push(prepare(record, &mut keys, &mut sun));
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.blocking_send(Msg::Batch(full)).is_err() {
                        return;
                    }
                }
            }
            Err(errors) => {
                s.rows_invalid += 1;
                if s.rows_invalid == 1 && tx.blocking_send(Msg::Invalid).is_err() {
                    return;
                }
                for e in errors {
                    if s.errors.len() < MAX_REPORTED_ERRORS {
                        s.errors.push(e.into());
                    } else {
                        s.more_errors += 1;
                    }
                }
            }
        }
        if let Some(p) = &progress
            && s.rows_read.is_multiple_of(10_000)
        {
            p(csv.position().byte());
        }
    }
    if !batch.is_empty() && tx.blocking_send(Msg::Batch(batch)).is_err() {
        return;
    }
    if let Some(p) = &progress {
        p(csv.position().byte());
    }
    s.sha256 = hex(&csv.into_inner().hasher.finalize());
    let _ = tx.blocking_send(Msg::Done(Box::new(s)));
}

/// Everything an import needs besides the file.
pub struct ImportRequest<'a> {
    pub db: &'a Db,
    pub agency: &'a Agency,
    /// The import row (created with [`store::create_import`], status queued or running).
    pub import_id: i64,
    pub mapping: Mapping,
    pub skip_invalid: bool,
    pub actor: Actor,
    pub ip: Option<String>,
    pub now: i64,
    /// Called now and then with the bytes read so far (the CLI's progress bar).
    pub progress: Option<Box<dyn Fn(u64) + Send>>,
}

/// Runs an import to the end and records its outcome on the import row. Invalid rows are an
/// outcome (in the report), not an error; an error means the file could not be read at all or
/// the database failed, and the import row says so too.
pub async fn run(
    req: ImportRequest<'_>,
    reader: Box<dyn Read + Send>,
) -> Result<ImportReport, ImportError> {
    let ImportRequest {
        db,
        agency,
        import_id,
        mapping,
        skip_invalid,
        actor,
        ip,
        now,
        progress,
    } = req;
    store::set_import_status(db, agency.id, import_id, "running").await?;
    let result = write(
        db,
        agency,
        import_id,
        mapping,
        skip_invalid,
        &actor,
        ip.as_deref(),
        now,
        progress,
        reader,
    )
    .await;
    match &result {
        Ok(report) if report.rejected => {
            store::finish_import(db, agency.id, import_id, "failed", report, "", now).await?;
            audit::record(
                db,
                agency.id,
                now,
                &Event::new(
                    &actor,
                    "stops.import_rejected",
                    format!("stop_import:{import_id}"),
                )
                .detail(serde_json::json!({
                    "rows_read": report.rows_read,
                    "rows_invalid": report.rows_invalid,
                }))
                .ip(ip.as_deref()),
            )
            .await?;
        }
        Ok(_) => {}
        Err(e) => {
            let failure = serde_json::json!({ "failure": e.to_string() }).to_string();
            store::fail_import(db, agency.id, import_id, &failure, now).await?;
            audit::record(
                db,
                agency.id,
                now,
                &Event::new(
                    &actor,
                    "stops.import_failed",
                    format!("stop_import:{import_id}"),
                )
                .detail(serde_json::json!({ "reason": e.to_string() }))
                .ip(ip.as_deref()),
            )
            .await?;
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn write(
    db: &Db,
    agency: &Agency,
    import_id: i64,
    mapping: Mapping,
    skip_invalid: bool,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
    progress: Option<Box<dyn Fn(u64) + Send>>,
    reader: Box<dyn Read + Send>,
) -> Result<ImportReport, ImportError> {
    let (tx_batches, mut rx) = mpsc::channel::<Msg>(4);
    let agency_copy = agency.clone();
    let parser = tokio::task::spawn_blocking(move || {
        parse(reader, mapping, agency_copy, tx_batches, progress)
    });

    let mut tx = db.begin().await?;
    let mut writer = StopWriter::begin(&mut tx, agency.id, import_id).await?;
    let mut valid = 0u64;
    let mut invalid_seen = false;
    let summary = loop {
        match rx.recv().await {
            Some(Msg::Batch(rows)) => {
                valid += rows.len() as u64;
                // Once a row is invalid and the whole file will be refused, keep reading to
                // report every problem, but stop writing.
                if !invalid_seen || skip_invalid {
                    writer.push(&mut tx, &rows).await?;
                }
            }
            Some(Msg::Invalid) => invalid_seen = true,
            Some(Msg::Done(s)) => break *s,
            Some(Msg::Fatal(message)) => return Err(ImportError::File(message)),
            None => {
                return Err(ImportError::File(
                    "the file could not be read to the end".into(),
                ));
            }
        }
    };
    let _ = parser.await;
    let inserted = if summary.rows_invalid > 0 && !skip_invalid {
        0
    } else {
        writer.finish(&mut tx).await?
    };
    let mut report = ImportReport {
        rows_read: summary.rows_read,
        rows_inserted: inserted,
        rows_duplicate: valid - inserted,
        rows_invalid: summary.rows_invalid,
        errors: summary.errors,
        more_errors: summary.more_errors,
        ignored_columns: summary.ignored_columns,
        skip_invalid,
        rejected: false,
    };
    if summary.rows_invalid > 0 && !skip_invalid {
        drop(tx); // rolls back every row written
        report.rows_inserted = 0;
        report.rows_duplicate = 0;
        report.rejected = true;
        return Ok(report);
    }
    store::finish_import_tx(
        &mut tx,
        agency.id,
        import_id,
        "done",
        &report,
        &summary.sha256,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(actor, "stops.import", format!("stop_import:{import_id}"))
            .detail(serde_json::json!({
                "sha256": summary.sha256,
                "rows_read": report.rows_read,
                "rows_inserted": report.rows_inserted,
                "rows_duplicate": report.rows_duplicate,
                "rows_invalid": report.rows_invalid,
            }))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// Writes the stops of one import in its transaction: skips those whose key is stored (or
/// came earlier in the file), counts the rest into the analysis store, and stores them in
/// chunks, each encoded on a blocking thread while the next one fills.
struct StopWriter {
    agency_id: i64,
    import_id: i64,
    keys: KeySet,
    chunk: ChunkBuilder,
    chunks: i64,
    encoding: Option<tokio::task::JoinHandle<EncodedChunk>>,
    tally: Tally,
    inserted: u64,
}

impl StopWriter {
    async fn begin(tx: &mut Tx, agency_id: i64, import_id: i64) -> Result<StopWriter, sqlx::Error> {
        store::lock_for_import(tx, agency_id, import_id).await?;
        Ok(StopWriter {
            agency_id,
            import_id,
            keys: KeySet::new(store::stop_keys(tx, agency_id).await?),
            chunk: ChunkBuilder::default(),
            chunks: 0,
            encoding: None,
            tally: Tally::default(),
            inserted: 0,
        })
    }

    async fn push(&mut self, tx: &mut Tx, rows: &[PreparedStop]) -> Result<(), ImportError> {
        for row in rows {
            let Some(key) = self.keys.admit(row.row_key, row.by_content) else {
                continue;
            };
            self.tally.count(row);
            self.chunk.push(row, key);
            self.inserted += 1;
            if self.chunk.len() == CHUNK_ROWS {
                self.seal(tx).await?;
            }
        }
        Ok(())
    }

    /// Starts encoding the chunk that is filling, after storing the one encoded before it.
    async fn seal(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        self.store_encoded(tx).await?;
        let full = std::mem::take(&mut self.chunk);
        self.encoding = Some(tokio::task::spawn_blocking(move || full.encode()));
        Ok(())
    }

    async fn store_encoded(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        if let Some(encoding) = self.encoding.take() {
            let encoded = encoding
                .await
                .map_err(|e| ImportError::File(format!("encoding stops failed: {e}")))?;
            store::insert_chunk(tx, self.agency_id, self.import_id, self.chunks, &encoded).await?;
            self.chunks += 1;
        }
        Ok(())
    }

    /// Stores the last chunk and the analysis store's counts; returns the stops written.
    async fn finish(mut self, tx: &mut Tx) -> Result<u64, ImportError> {
        if !self.chunk.is_empty() {
            self.seal(tx).await?;
        }
        self.store_encoded(tx).await?;
        self.tally.check().map_err(ImportError::File)?;
        self.tally.write(tx, self.agency_id).await?;
        Ok(self.inserted)
    }
}

/// Writes records made by the program itself (the demo), already valid, as one import: the
/// same keys, sun times, analysis store and audit entry as a file import.
pub async fn write_records(
    db: &Db,
    agency: &Agency,
    file_name: &str,
    format: &str,
    records: Vec<StopRecord>,
    actor: &Actor,
    now: i64,
) -> Result<(i64, ImportReport), ImportError> {
    let import_id = store::create_import(
        db, agency.id, file_name, format, false, None, "running", now,
    )
    .await?;
    let mut keys = RowKeys::default();
    let mut sun = SunCache::new(agency);
    let rows_read = records.len() as u64;
    let mut tx = db.begin().await?;
    let mut writer = StopWriter::begin(&mut tx, agency.id, import_id).await?;
    let mut batch = Vec::with_capacity(BATCH);
    for r in records {
        batch.push(prepare(r, &mut keys, &mut sun));
        if batch.len() == BATCH {
            writer.push(&mut tx, &batch).await?;
            batch.clear();
        }
    }
    writer.push(&mut tx, &batch).await?;
    let inserted = writer.finish(&mut tx).await?;
    let report = ImportReport {
        rows_read,
        rows_inserted: inserted,
        rows_duplicate: rows_read - inserted,
        ..Default::default()
    };
    store::finish_import_tx(&mut tx, agency.id, import_id, "done", &report, "", now).await?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(actor, "stops.import", format!("stop_import:{import_id}"))
            .detail(serde_json::json!({ "rows_read": rows_read, "rows_inserted": inserted })),
    )
    .await?;
    tx.commit().await?;
    Ok((import_id, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    #[test]
    fn keys_prefer_the_source_id_and_count_identical_rows() {
        let mut keys = RowKeys::default();
        let r = StopRecord {
            date: NaiveDate::from_ymd_opt(2017, 1, 2).unwrap(),
            subject_race: Some("white".into()),
            ..Default::default()
        };
        let (content, by_content) = keys.key(&r);
        assert!(by_content);
        let mut first = KeySet::default();
        let a = first.admit(content, true).unwrap();
        let b = first.admit(content, true).unwrap();
        assert_ne!(a, b, "two identical stops in one file are two stops");
        assert_eq!(
            a, content,
            "the first of a kind has the same key in any file"
        );
        // The same file again, over what the first import stored: every row is a duplicate;
        // a third identical row is a new stop.
        let mut again = KeySet::new([a, b].into_iter().collect());
        assert_eq!(again.admit(content, true), None);
        assert_eq!(again.admit(content, true), None);
        let c = again.admit(content, true).unwrap();
        assert!(c != a && c != b);
        let with_id = StopRecord {
            source_id: Some("17".into()),
            ..r.clone()
        };
        let (id_key, by_content) = keys.key(&with_id);
        assert!(!by_content);
        assert_ne!(id_key, a);
        assert_eq!(first.admit(id_key, false), Some(id_key));
        assert_eq!(
            first.admit(id_key, false),
            None,
            "a source id is one stop however often"
        );
        assert_eq!(
            KeySet::new([id_key].into_iter().collect()).admit(id_key, false),
            None
        );
        // The key covers every field: a stop differing in any one is another stop.
        let variants = [
            StopRecord {
                time: NaiveTime::from_hms_opt(1, 2, 3),
                ..r.clone()
            },
            StopRecord {
                location: Some("1 MAIN ST".into()),
                ..r.clone()
            },
            StopRecord {
                lat: Some(1.0),
                ..r.clone()
            },
            StopRecord {
                lng: Some(1.0),
                ..r.clone()
            },
            StopRecord {
                district: Some("1".into()),
                ..r.clone()
            },
            StopRecord {
                subject_sex: Some("male".into()),
                ..r.clone()
            },
            StopRecord {
                subject_age: Some(1),
                ..r.clone()
            },
            StopRecord {
                officer_id: Some("1".into()),
                ..r.clone()
            },
            StopRecord {
                stop_type: Some("vehicular".into()),
                ..r.clone()
            },
            StopRecord {
                reason_for_stop: Some("1".into()),
                ..r.clone()
            },
            StopRecord {
                outcome: Some("arrest".into()),
                ..r.clone()
            },
            StopRecord {
                arrest_made: Some(false),
                ..r.clone()
            },
            StopRecord {
                citation_issued: Some(false),
                ..r.clone()
            },
            StopRecord {
                warning_issued: Some(false),
                ..r.clone()
            },
            StopRecord {
                frisk_performed: Some(false),
                ..r.clone()
            },
            StopRecord {
                search_conducted: Some(false),
                ..r.clone()
            },
            StopRecord {
                search_basis: Some("k9".into()),
                ..r.clone()
            },
            StopRecord {
                contraband_found: Some(false),
                ..r.clone()
            },
            StopRecord {
                date: NaiveDate::from_ymd_opt(2017, 1, 3).unwrap(),
                ..r.clone()
            },
            // Texts carry their length: moving a character from one field to the next is
            // another record.
            StopRecord {
                district: Some("ab".into()),
                officer_id: Some("c".into()),
                ..r.clone()
            },
            StopRecord {
                district: Some("a".into()),
                officer_id: Some("bc".into()),
                ..r.clone()
            },
        ];
        let mut seen = std::collections::HashSet::from([a]);
        for v in &variants {
            assert!(seen.insert(RowKeys::default().key(v).0), "{v:?}");
        }
    }
}
