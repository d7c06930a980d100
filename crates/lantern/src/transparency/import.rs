//! Importing stop records from a CSV file.
//!
//! An import is all or nothing for readers: its chunks are committed every few megabytes, but
//! they count only once its last transaction has brought the analysis store up to date,
//! recorded the import in the audit chain and marked it done; an import that fails, or is
//! refused, deletes them (and the agency's next import deletes those of one whose process
//! ended). One import of an agency writes at a time (see [`store::claim_import`]). By default a
//! single invalid value rejects the whole file (the report names each bad line and column);
//! with `skip_invalid` the valid rows go in and the report lists the rows left out.
//!
//! Re-importing is safe: each row gets a key, a 128-bit hash (XXH3) of the source's own row
//! id when the file has one, else of the normalised record and how many identical records came
//! before it in the same file. A row whose key is already stored is counted as a duplicate and
//! skipped, so the same file twice, or overlapping monthly extracts, add each stop once.
//!
//! The work is spread over every core. A reader thread reads the file in blocks of whole
//! records (about 4 MiB, cut at a line end outside quotes) and hashes it for the audit entry.
//! One parsing thread per core takes blocks: it reads each row into a borrowed [`StopRef`]
//! (nothing allocated per row), packs the valid ones into a chunk
//! ([`chunks`](crate::transparency::chunks)) and keys them. Blocks then take turns, in file
//! order, to check their keys against the agency's and the file's, so that the n-th of
//! identical rows is the n-th in the file whichever thread read it. The thread drops the
//! duplicates from its chunk, counts what is left into its own [`Tally`] and encodes the
//! chunk. The writer, on the async side, stores chunks in file order. At the end the threads'
//! tallies are added together and written with the import record and its audit entry.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use chrono::{NaiveDate, Timelike};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::platform::agencies::Agency;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, Tx};
use crate::platform::secrets::hex;
use crate::transparency::chunks::{CHUNK_ROWS, ChunkBuilder, EncodedChunk};
use crate::transparency::mapping::{BoundMapping, Mapping};
use crate::transparency::model::{
    FromOutcome, ImportReport, MAX_REPORTED_ERRORS, OUTCOMES, RACES, ReportedError, SEARCH_BASES,
    SEXES, STOP_TYPES, StopRecord, StopRef,
};
use crate::transparency::store;
use crate::transparency::tally::Tally;

/// A stored stop, as read back from its chunk.
#[derive(Clone, Debug)]
pub struct StoredStop {
    pub record: StopRecord,
    /// The key it is stored under.
    pub row_key: u128,
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
    /// By day from `first_day` on (a file's stops span years, so a few thousand days; looked
    /// up by index, as every row does, rather than hashed).
    days: Vec<Option<SunTimes>>,
    first_day: i32,
}

type SunTimes = (Option<i64>, Option<i64>);

impl SunCache {
    pub fn new(agency: &Agency) -> SunCache {
        let place = match (agency.latitude, agency.longitude) {
            (Some(lat), Some(lng)) => Some((lat, lng, agency.tz())),
            _ => None,
        };
        SunCache::at(place)
    }

    /// Sun times at a place (latitude, longitude, time zone), or none without one.
    fn at(place: Option<(f64, f64, chrono_tz::Tz)>) -> SunCache {
        SunCache {
            place,
            days: Vec::new(),
            first_day: 0,
        }
    }

    pub fn get(&mut self, date: NaiveDate) -> SunTimes {
        let Some((lat, lng, tz)) = self.place else {
            return (None, None);
        };
        let day = chrono::Datelike::num_days_from_ce(&date);
        if self.days.is_empty() {
            self.first_day = day;
        }
        if day < self.first_day {
            // A year more than needed, so that a file in reverse date order moves the days
            // once a year rather than once a day.
            let before = (self.first_day - day) as usize + 366;
            self.days.splice(0..0, std::iter::repeat_n(None, before));
            self.first_day -= before as i32;
        }
        let at = (day - self.first_day) as usize;
        if at >= self.days.len() {
            self.days.resize(at + 1, None);
        }
        *self.days[at].get_or_insert_with(|| {
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
fn canonical(r: &StopRef, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, v: Option<&str>) {
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
    let category =
        |categories: &[&'static str], v: Option<u8>| v.map(|c| categories[usize::from(c)]);
    text(out, r.location);
    number(out, r.lat.map(f64::to_le_bytes));
    number(out, r.lng.map(f64::to_le_bytes));
    text(out, r.district);
    text(out, category(&RACES, r.subject_race));
    text(out, category(&SEXES, r.subject_sex));
    number(out, r.subject_age.map(i64::to_le_bytes));
    text(out, r.officer_id);
    text(out, category(&STOP_TYPES, r.stop_type));
    text(out, r.reason_for_stop);
    text(out, category(&OUTCOMES, r.outcome));
    flag(out, r.arrest_made);
    flag(out, r.citation_issued);
    flag(out, r.warning_issued);
    flag(out, r.frisk_performed);
    flag(out, r.search_conducted);
    text(out, category(&SEARCH_BASES, r.search_basis));
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
    pub fn key(&mut self, r: &StopRef) -> (u128, bool) {
        if let Some(id) = r.source_id {
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
    met: MetKeys,
}

/// The keys an import has met, in 4,096 sets by their top bits. Growing one set moves only
/// its own few keys, in cache; growing a single set of ten million keys moved hundreds of
/// megabytes while every parsing thread waited its turn.
#[derive(Default)]
struct MetKeys {
    parts: Vec<rustc_hash::FxHashSet<u128>>,
}

impl MetKeys {
    const PARTS: usize = 4096;

    fn part(key: u128) -> usize {
        (key >> 116) as usize
    }

    /// Adds a key; false when it was met before.
    fn insert(&mut self, key: u128) -> bool {
        if self.parts.is_empty() {
            self.parts.resize_with(Self::PARTS, Default::default);
        }
        self.parts[Self::part(key)].insert(key)
    }

    /// Makes room for about `keys` keys in all, so that the sets are not grown (and their keys
    /// moved, while the other threads wait their turn) as the file is read.
    fn reserve(&mut self, keys: usize) {
        let mean = keys / Self::PARTS;
        // Hashes spread keys evenly: a part's count is within a few standard deviations of
        // the mean.
        let each = mean + 4 * mean.isqrt() + 8;
        self.parts.resize_with(Self::PARTS, || {
            rustc_hash::FxHashSet::with_capacity_and_hasher(each, Default::default())
        });
        for part in &mut self.parts {
            part.reserve(each.saturating_sub(part.len()));
        }
    }
}

impl KeySet {
    pub fn new(stored: rustc_hash::FxHashSet<u128>) -> KeySet {
        KeySet {
            stored,
            met: Default::default(),
        }
    }

    /// Makes room for the keys of about `rows` rows of a file.
    fn expect_rows(&mut self, rows: usize) {
        self.met.reserve(rows);
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

    /// [`KeySet::admit`] for each of `keys`, into `admitted`, taken in the `order` of
    /// [`by_part`]. The sets are far larger than the processor's caches, and keys in file order
    /// land anywhere in them; taken part by part, the keys of one part follow each other, in
    /// cache. Identical keys are in one part, in file order, so each still gets the key its
    /// place among them gives.
    fn admit_in_order(
        &mut self,
        keys: &[(u128, bool)],
        order: &[u32],
        admitted: &mut Vec<Option<u128>>,
    ) {
        admitted.clear();
        admitted.resize(keys.len(), None);
        for &i in order {
            let (key, by_content) = keys[i as usize];
            admitted[i as usize] = self.admit(key, by_content);
        }
    }
}

/// The indexes of `keys`, ordered by their part of [`MetKeys`] and in file order within one
/// (a counting sort, which is stable).
fn by_part(keys: &[(u128, bool)], counts: &mut Vec<u32>, order: &mut Vec<u32>) {
    counts.clear();
    counts.resize(MetKeys::PARTS + 1, 0);
    for (key, _) in keys {
        counts[MetKeys::part(*key) + 1] += 1;
    }
    for p in 1..counts.len() {
        counts[p] += counts[p - 1];
    }
    order.clear();
    order.resize(keys.len(), 0);
    for (i, (key, _)) in keys.iter().enumerate() {
        let at = &mut counts[MetKeys::part(*key)];
        order[*at as usize] = i as u32;
        *at += 1;
    }
}

/// Bytes of the file per block, the unit of work of one parsing thread (about 30,000 rows of
/// a SOPP file).
const BLOCK_BYTES: usize = 4 << 20;

/// A run of whole records of the file.
struct Block {
    /// Its place in the file: 0 for the first block after the header.
    index: usize,
    /// The file line its first record starts on.
    first_line: u64,
    bytes: Vec<u8>,
}

/// The end of the last whole record in `bytes`, which begin at a record's start: just past the
/// last line end outside a quoted field, read as the CSV reader reads (a quote opens a quoted
/// field only at the field's start, and a doubled quote inside one stands for a quote); and
/// the number of line ends before it, quoted or not, which file line numbers count. Counting
/// them here, in the one pass that meets every line end, costs nothing more.
fn last_record_end(bytes: &[u8]) -> Option<(usize, u64)> {
    let mut in_quotes = false;
    let mut last = None;
    let mut lines = 0;
    let mut i = 0;
    while let Some(offset) = memchr::memchr2(b'"', b'\n', &bytes[i..]) {
        let j = i + offset;
        i = j + 1;
        if bytes[j] == b'\n' {
            lines += 1;
            if !in_quotes {
                last = Some((j + 1, lines));
            }
        } else if in_quotes {
            if bytes.get(j + 1) == Some(&b'"') {
                i = j + 2;
            } else {
                in_quotes = false;
            }
        } else if j == 0 || matches!(bytes[j - 1], b',' | b'\n' | b'\r') {
            in_quotes = true;
        }
    }
    last
}

/// Reads the file in blocks that end at a record's end, hashing it for the audit entry.
struct BlockReader {
    reader: Box<dyn Read + Send>,
    hasher: Sha256,
    /// Read but not yet given out: the start of a record.
    pending: Vec<u8>,
    /// Buffers of blocks already parsed, to read into again rather than allocate.
    recycled: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
    bytes_read: u64,
    eof: bool,
}

impl BlockReader {
    fn new(reader: Box<dyn Read + Send>) -> BlockReader {
        BlockReader {
            reader,
            hasher: Sha256::new(),
            pending: Vec::with_capacity(BLOCK_BYTES),
            recycled: None,
            bytes_read: 0,
            eof: false,
        }
    }

    /// The next run of whole records (the rest of the file at its end) and the number of line
    /// ends in it, or `None` at the end.
    fn next_block(&mut self) -> std::io::Result<Option<(Vec<u8>, u64)>> {
        let mut want = BLOCK_BYTES;
        loop {
            if !self.eof && self.pending.len() < want {
                let start = self.pending.len();
                let asked = (want - start) as u64;
                let n = (&mut self.reader)
                    .take(asked)
                    .read_to_end(&mut self.pending)?;
                self.hasher.update(&self.pending[start..]);
                self.bytes_read += n as u64;
                self.eof = (n as u64) < asked;
            }
            if self.pending.is_empty() {
                return Ok(None);
            }
            let (end, lines) = if self.eof {
                let lines = memchr::memchr_iter(b'\n', &self.pending).count();
                (self.pending.len(), lines as u64)
            } else {
                match last_record_end(&self.pending) {
                    Some(found) => found,
                    // One record longer than a block: read on.
                    None => {
                        want = self.pending.len() * 2;
                        continue;
                    }
                }
            };
            let mut rest = self
                .recycled
                .as_ref()
                .and_then(|r| r.try_recv().ok())
                .unwrap_or_else(|| Vec::with_capacity(BLOCK_BYTES));
            rest.clear();
            rest.extend_from_slice(&self.pending[end..]);
            let mut block = std::mem::replace(&mut self.pending, rest);
            block.truncate(end);
            return Ok(Some((block, lines)));
        }
    }
}

/// What the parsing threads found in one block.
#[derive(Debug, Default)]
struct BlockReport {
    rows_read: u64,
    rows_valid: u64,
    rows_invalid: u64,
    /// Stops added.
    inserted: u64,
    /// The block's first problems, in file order, and how many more there were.
    errors: Vec<ReportedError>,
    more_errors: u64,
}

impl BlockReport {
    fn error(&mut self, e: ReportedError) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(e);
        } else {
            self.more_errors += 1;
        }
    }
}

enum Msg {
    /// A block's new stops, encoded into chunks, and its report.
    Block {
        index: usize,
        chunks: Vec<EncodedChunk>,
        report: BlockReport,
    },
    /// The whole file is read and every block sent.
    Done(Box<ParseSummary>),
    Fatal(String),
}

struct ParseSummary {
    ignored_columns: Vec<String>,
    /// Which outcomes the file's stops count from `outcome` (it has no column for them).
    from_outcome: FromOutcome,
    sha256: String,
    /// What the stops added count for the analysis store.
    tally: Tally,
}

/// What the parsing threads share.
struct Shared {
    /// Blocks take turns, in file order, to check their keys against the agency's and the
    /// file's (see [`KeySet::admit`]): the n-th of identical rows is the n-th in the file.
    admission: Mutex<Admission>,
    turn: Condvar,
    /// Set once a row is invalid and the file is imported all or nothing: nothing more is
    /// written, but every block is still read to report every problem.
    refused: AtomicBool,
    /// Set when the import cannot go on: the file is unreadable, or the writer has gone.
    stopped: AtomicBool,
    /// Whether invalid rows are left out (true) or refuse the whole file (false).
    skip_invalid: bool,
}

struct Admission {
    next: usize,
    keys: KeySet,
}

impl Shared {
    fn new(keys: KeySet, skip_invalid: bool) -> Shared {
        Shared {
            admission: Mutex::new(Admission { next: 0, keys }),
            turn: Condvar::new(),
            refused: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            skip_invalid,
        }
    }

    /// Waits for block `index`'s turn, then gives each of its rows the key it is stored
    /// under, or `None` when it is already stored (in `admitted`), taking them in `order`
    /// (see [`by_part`]); false when the import stopped.
    fn admit(
        &self,
        index: usize,
        keys: &[(u128, bool)],
        order: &[u32],
        admitted: &mut Vec<Option<u128>>,
    ) -> bool {
        let mut a = self.admission.lock().unwrap_or_else(|e| e.into_inner());
        while a.next != index {
            if self.stopped.load(Ordering::Acquire) {
                return false;
            }
            a = self.turn.wait(a).unwrap_or_else(|e| e.into_inner());
        }
        a.keys.admit_in_order(keys, order, admitted);
        a.next += 1;
        drop(a);
        self.turn.notify_all();
        true
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _turn = self.admission.lock().unwrap_or_else(|e| e.into_inner());
        self.turn.notify_all();
    }
}

/// A block read and validated: its valid rows in chunks, and their keys in file order.
struct ParsedBlock {
    chunks: Vec<ChunkBuilder>,
    keys: Vec<(u128, bool)>,
    report: BlockReport,
}

/// Reads and validates the rows of one block; `Err` when it is not readable CSV.
fn parse_block(
    block: &Block,
    bound: &BoundMapping,
    header: &csv::StringRecord,
    sun: &mut SunCache,
    keys: &mut RowKeys,
    spare: &mut Spare,
) -> Result<ParsedBlock, String> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&block.bytes[..]);
    let line_of = |p: Option<&csv::Position>| block.first_line + p.map_or(1, |p| p.line()) - 1;
    // Room for as many rows as short rows would make, so that columns are not moved as they
    // grow (capacity never touched costs no memory).
    let rows = (block.bytes.len() / 48).clamp(16, CHUNK_ROWS);
    let mut new_chunk = || {
        spare
            .chunks
            .pop()
            .unwrap_or_else(|| ChunkBuilder::with_capacity(rows))
    };
    let mut p = ParsedBlock {
        chunks: vec![new_chunk()],
        keys: std::mem::take(&mut spare.keys),
        report: BlockReport::default(),
    };
    p.keys.clear();
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = line_of(e.position());
                return Err(match e.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => format!(
                        "line {line}, column {}: the value is not UTF-8 text; save the file as UTF-8",
                        header.get(err.field()).unwrap_or("?")
                    ),
                    _ => format!("line {line}: the file is not readable CSV: {e}"),
                });
            }
        }
        p.report.rows_read += 1;
        let line = line_of(row.position());
        if row.len() != header.len() {
            p.report.rows_invalid += 1;
            p.report.error(ReportedError {
                line,
                column: String::new(),
                value: String::new(),
                message: format!("has {} fields; the header has {}", row.len(), header.len()),
            });
            continue;
        }
        match bound.read(&row, line) {
            Ok(stop) => {
                if p.chunks.last().is_some_and(|c| c.len() == CHUNK_ROWS) {
                    p.chunks.push(new_chunk());
                }
                let (sunset, dusk) = sun.get(stop.date);
                let chunk = p.chunks.last_mut().expect("a chunk to fill");
                chunk.push(&stop, sunset, dusk);
                p.keys.push(keys.key(&stop));
                p.report.rows_valid += 1;
            }
            Err(errors) => {
                p.report.rows_invalid += 1;
                for e in errors {
                    p.report.error(e.into());
                }
            }
        }
    }
    Ok(p)
}

/// What a parsing thread keeps from block to block, emptied, so that it is not allocated
/// afresh for each: chunk builders, and the lists of keys a block's rows get.
#[derive(Default)]
struct Spare {
    chunks: Vec<ChunkBuilder>,
    keys: Vec<(u128, bool)>,
    admitted: Vec<Option<u128>>,
    part_counts: Vec<u32>,
    order: Vec<u32>,
    sealed: Vec<u128>,
    keep: Vec<bool>,
}

/// The chunk of the stops of `chunk` that `admitted` gives a key (the others are stored
/// already), counted into `tally`; `None` when every one is stored. Leaves `chunk` empty.
fn seal(
    chunk: &mut ChunkBuilder,
    admitted: &[Option<u128>],
    tally: &mut Tally,
    keys: &mut Vec<u128>,
    keep: &mut Vec<bool>,
) -> Option<EncodedChunk> {
    keys.clear();
    keys.extend(admitted.iter().flatten());
    if keys.is_empty() {
        chunk.clear();
        return None;
    }
    if keys.len() < admitted.len() {
        keep.clear();
        keep.extend(admitted.iter().map(Option::is_some));
        chunk.retain(keep);
    }
    tally.count_chunk(&chunk.counted());
    Some(chunk.encode(keys))
}

/// Stops the import when a parsing thread panics (a bug), and goes on taking blocks until the
/// reader stops, so that neither the other threads (waiting for their turn) nor the reader
/// (waiting to hand over a block) wait for ever.
struct StopOnPanic<'a> {
    shared: &'a Shared,
    blocks: &'a Mutex<std::sync::mpsc::Receiver<Block>>,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared.stop();
            let take = || self.blocks.lock().unwrap_or_else(|e| e.into_inner()).recv();
            while take().is_ok() {}
        }
    }
}

/// One parsing thread: takes blocks until there are none, and sends each block's new stops,
/// encoded, to the writer. Returns what its stops count for the analysis store.
fn work(
    shared: &Shared,
    blocks: &Mutex<std::sync::mpsc::Receiver<Block>>,
    recycle: &std::sync::mpsc::Sender<Vec<u8>>,
    bound: &BoundMapping,
    header: &csv::StringRecord,
    agency: &Agency,
    out: &mpsc::Sender<Msg>,
) -> Tally {
    let _guard = StopOnPanic { shared, blocks };
    let mut tally = Tally::new(bound.from_outcome());
    let mut sun = SunCache::new(agency);
    let mut keys = RowKeys::default();
    let mut spare = Spare::default();
    loop {
        let next = blocks.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(block) = next else { break };
        // Once stopped, blocks are only taken so that the reader is never left waiting.
        if shared.stopped.load(Ordering::Acquire) {
            continue;
        }
        let index = block.index;
        let parsed = parse_block(&block, bound, header, &mut sun, &mut keys, &mut spare);
        let _ = recycle.send(block.bytes);
        let parsed = match parsed {
            Ok(p) => p,
            Err(message) => {
                let _ = out.blocking_send(Msg::Fatal(message));
                shared.stop();
                continue;
            }
        };
        if parsed.report.rows_invalid > 0 && !shared.skip_invalid {
            shared.refused.store(true, Ordering::Release);
        }
        let writing = !shared.refused.load(Ordering::Acquire);
        let row_keys = if writing { &parsed.keys[..] } else { &[] };
        // Ordered before the block's turn, so that the turn itself is short.
        by_part(row_keys, &mut spare.part_counts, &mut spare.order);
        let admitted = shared.admit(index, row_keys, &spare.order, &mut spare.admitted);
        spare.keys = parsed.keys;
        if !admitted {
            continue;
        }
        let mut report = parsed.report;
        let mut chunks = Vec::new();
        if writing {
            let mut from = 0;
            for mut chunk in parsed.chunks {
                let to = from + chunk.len();
                let sealed = seal(
                    &mut chunk,
                    &spare.admitted[from..to],
                    &mut tally,
                    &mut spare.sealed,
                    &mut spare.keep,
                );
                if let Some(encoded) = sealed {
                    report.inserted += encoded.rows as u64;
                    chunks.push(encoded);
                }
                spare.chunks.push(chunk);
                from = to;
            }
        } else {
            spare.chunks.extend(parsed.chunks.into_iter().map(|mut c| {
                c.clear();
                c
            }));
        }
        let sent = out.blocking_send(Msg::Block {
            index,
            chunks,
            report,
        });
        if sent.is_err() {
            shared.stop();
        }
    }
    tally
}

/// Reads the whole file on the current (blocking) thread and parses it on as many threads as
/// there are cores, sending each block's new stops to the writer in any order.
fn parse(
    (reader, size): (Box<dyn Read + Send>, Option<u64>),
    mapping: Mapping,
    agency: Agency,
    skip_invalid: bool,
    mut keys: KeySet,
    out: mpsc::Sender<Msg>,
    progress: Option<Box<dyn Fn(u64) + Send>>,
) {
    let fatal = |message: String| {
        let _ = out.blocking_send(Msg::Fatal(message));
    };
    let unreadable = |e: std::io::Error| format!("the file could not be read: {e}");
    let mut reader = BlockReader::new(reader);
    // The header comes first, in the first block.
    let (mut first, first_lines) = match reader.next_block() {
        Ok(b) => b.unwrap_or_default(),
        Err(e) => return fatal(unreadable(e)),
    };
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&first[..]);
    let header = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => return fatal(format!("the file is not readable CSV: {e}")),
    };
    let (data_start, mut next_line) = (csv.position().byte() as usize, csv.position().line());
    drop(csv);
    let bound = match mapping.bind(&header) {
        Ok(b) => b,
        Err(e) => return fatal(e),
    };
    first.drain(..data_start.min(first.len()));
    // The header's line ends are not the first block's.
    let first_lines = first_lines.saturating_sub(next_line - 1);
    if let (Some(size), true) = (size, first_lines > 0) {
        // The first block's bytes per line tell about how many rows the file has.
        let rows = size.saturating_sub(data_start as u64) * first_lines / first.len().max(1) as u64;
        keys.expect_rows(rows.min(32 << 20) as usize);
    }
    let shared = Shared::new(keys, skip_invalid);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8));
    let (to_workers, blocks) = std::sync::mpsc::sync_channel::<Block>(threads);
    let blocks = Mutex::new(blocks);
    let (recycle, recycled) = std::sync::mpsc::channel();
    reader.recycled = Some(recycled);
    let tallies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| work(&shared, &blocks, &recycle, &bound, &header, &agency, &out))
            })
            .collect();
        let mut next = Some((first, first_lines));
        let mut index = 0;
        while let Some((bytes, lines)) = next.take() {
            if shared.stopped.load(Ordering::Acquire) {
                break;
            }
            let first_line = next_line;
            next_line += lines;
            let block = Block {
                index,
                first_line,
                bytes,
            };
            index += 1;
            if to_workers.send(block).is_err() {
                break;
            }
            if let Some(p) = &progress {
                p(reader.bytes_read);
            }
            match reader.next_block() {
                Ok(b) => next = b,
                Err(e) => {
                    fatal(unreadable(e));
                    shared.stop();
                }
            }
        }
        drop(to_workers);
        workers
            .into_iter()
            .map(|w| w.join().expect("a parsing thread panicked"))
            .collect::<Vec<_>>()
    });
    if shared.stopped.load(Ordering::Acquire) {
        return;
    }
    // The first thread's tally is the sum's start, rather than copied into an empty one.
    let mut tallies = tallies.into_iter();
    let mut tally = tallies.next().unwrap_or_default();
    for t in tallies {
        tally.absorb(t);
    }
    let _ = out.blocking_send(Msg::Done(Box::new(ParseSummary {
        ignored_columns: bound.ignored.clone(),
        from_outcome: bound.from_outcome(),
        sha256: hex(&reader.hasher.finalize()),
        tally,
    })));
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
    /// The file's size in bytes, when it is known: it sizes the import's key set.
    pub size: Option<u64>,
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
        size,
    } = req;
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
        (reader, size),
    )
    .await;
    match &result {
        Ok((report, sha256)) if report.rejected => {
            store::finish_import(db, agency.id, import_id, "failed", report, sha256, now).await?;
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
    result.map(|(report, _)| report)
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
    file: (Box<dyn Read + Send>, Option<u64>),
) -> Result<(ImportReport, String), ImportError> {
    let mut first = begin_writing(db, agency.id, import_id).await?;
    let keys = KeySet::new(store::stop_keys(&mut first, agency.id).await?);
    // Nothing else publishes stops while the import holds its claim. A transaction is begun
    // only when there is something to write: on SQLite it holds the write lock, which other
    // writers wait for.
    first.commit().await?;
    let mut tx: Option<Tx> = None;
    let (out, mut rx) = mpsc::channel::<Msg>(8);
    let agency_copy = agency.clone();
    let parser = tokio::task::spawn_blocking(move || {
        parse(
            file,
            mapping,
            agency_copy,
            skip_invalid,
            keys,
            out,
            progress,
        )
    });

    // Blocks arrive in any order; their chunks are stored, and their reports added up, in
    // file order.
    let mut waiting = BTreeMap::new();
    let mut next_block = 0;
    let mut chunks_stored = 0;
    let mut total = BlockReport::default();
    // Bytes stored since the last commit, and when the claim was last renewed.
    let mut written = 0;
    let mut renewed = std::time::Instant::now();
    let summary = loop {
        match rx.recv().await {
            Some(Msg::Block {
                index,
                chunks,
                report,
            }) => {
                waiting.insert(index, (chunks, report));
                while let Some((chunks, report)) = waiting.remove(&next_block) {
                    for chunk in chunks {
                        written += chunk.keys.len() + chunk.data.len();
                        if tx.is_none() {
                            tx = Some(db.begin().await?);
                        }
                        let t = tx.as_mut().expect("a transaction was begun");
                        store::insert_chunk(t, agency.id, import_id, chunks_stored, chunk).await?;
                        chunks_stored += 1;
                    }
                    if written >= COMMIT_BYTES || renewed.elapsed() >= RENEW_EVERY {
                        let mut t = match tx.take() {
                            Some(t) => t,
                            None => db.begin().await?,
                        };
                        renew(&mut t, agency.id, import_id).await?;
                        t.commit().await?;
                        (written, renewed) = (0, std::time::Instant::now());
                    }
                    total.rows_read += report.rows_read;
                    total.rows_valid += report.rows_valid;
                    total.rows_invalid += report.rows_invalid;
                    total.inserted += report.inserted;
                    total.more_errors += report.more_errors;
                    for e in report.errors {
                        total.error(e);
                    }
                    next_block += 1;
                }
            }
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
    if !waiting.is_empty() {
        return Err(ImportError::File(
            "the file could not be read to the end".into(),
        ));
    }
    let rejected = total.rows_invalid > 0 && !skip_invalid;
    let mut report = ImportReport {
        rows_read: total.rows_read,
        rows_inserted: total.inserted,
        rows_duplicate: total.rows_valid - total.inserted,
        rows_invalid: total.rows_invalid,
        errors: total.errors,
        more_errors: total.more_errors,
        ignored_columns: summary.ignored_columns,
        skip_invalid,
        rejected,
    };
    if rejected {
        // Rolls back the last chunks; the caller deletes those committed before.
        drop(tx);
        report.rows_inserted = 0;
        report.rows_duplicate = 0;
        return Ok((report, summary.sha256));
    }
    let mut tx = match tx {
        Some(t) => t,
        None => db.begin().await?,
    };
    renew(&mut tx, agency.id, import_id).await?;
    finish_writing(&mut tx, agency.id, summary.tally).await?;
    store::set_from_outcome(&mut tx, agency.id, import_id, summary.from_outcome).await?;
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
    Ok((report, summary.sha256))
}

/// Stored chunks are committed once this many bytes were written since the last commit: the
/// database is not locked for the whole import (SQLite), and the write-ahead log is copied
/// into the database file while the import goes on rather than all at its end.
pub const COMMIT_BYTES: usize = 8 << 20;

/// An import renews its claim at least this often (see [`store::STALE_AFTER_SECS`]).
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// How often an import waiting for another import of its agency looks again.
const CLAIM_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Waits until the import has claimed its agency (see [`store::claim_import`]), then begins
/// its first transaction.
async fn begin_writing(db: &Db, agency_id: i64, import_id: i64) -> Result<Tx, sqlx::Error> {
    while !store::claim_import(db, agency_id, import_id).await? {
        tokio::time::sleep(CLAIM_POLL).await;
    }
    db.begin().await
}

/// Renews the import's claim in `tx`, or stops it if it lost the claim.
async fn renew(tx: &mut Tx, agency_id: i64, import_id: i64) -> Result<(), ImportError> {
    if store::renew_claim(tx, agency_id, import_id).await? {
        Ok(())
    } else {
        Err(ImportError::File(
            "the import was stopped: it went a minute without writing, and another import of \
             the agency, or the server's start, took it for ended; import the file again"
                .into(),
        ))
    }
}

/// Adds what the import's stops count to the analysis store.
async fn finish_writing(tx: &mut Tx, agency_id: i64, tally: Tally) -> Result<(), ImportError> {
    tally.check().map_err(ImportError::File)?;
    tally.write(tx, agency_id).await?;
    Ok(())
}

/// Writes records made by the program itself (the demo), already valid, as one import: the
/// same keys, sun times, chunks, analysis store and audit entry as a file import.
pub async fn write_records(
    db: &Db,
    agency: &Agency,
    file_name: &str,
    format: &str,
    records: Vec<StopRecord>,
    actor: &Actor,
    now: i64,
) -> Result<(i64, ImportReport), ImportError> {
    let import_id =
        store::create_import(db, agency.id, file_name, format, false, None, "queued", now).await?;
    let mut row_keys = RowKeys::default();
    let mut sun = SunCache::new(agency);
    let mut tally = Tally::default();
    let rows_read = records.len() as u64;
    let mut inserted = 0;
    let mut tx = begin_writing(db, agency.id, import_id).await?;
    let mut keys = KeySet::new(store::stop_keys(&mut tx, agency.id).await?);
    for (n, records) in records.chunks(CHUNK_ROWS).enumerate() {
        let mut chunk = ChunkBuilder::default();
        let mut admitted = Vec::with_capacity(records.len());
        for r in records {
            let stop = r.as_ref().map_err(ImportError::File)?;
            let (sunset, dusk) = sun.get(stop.date);
            chunk.push(&stop, sunset, dusk);
            let (key, by_content) = row_keys.key(&stop);
            admitted.push(keys.admit(key, by_content));
        }
        let (mut sealed, mut keep) = (Vec::new(), Vec::new());
        if let Some(encoded) = seal(&mut chunk, &admitted, &mut tally, &mut sealed, &mut keep) {
            inserted += encoded.rows as u64;
            store::insert_chunk(&mut tx, agency.id, import_id, n as i64, encoded).await?;
        }
    }
    finish_writing(&mut tx, agency.id, tally).await?;
    // The records carry every outcome field themselves.
    store::set_from_outcome(&mut tx, agency.id, import_id, FromOutcome::default()).await?;
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

    /// A parsing thread that panics stops the import: a thread waiting for its turn gives up,
    /// and the reader is never left waiting to hand over a block.
    #[test]
    fn a_panicking_parser_stops_the_import_rather_than_hanging_it() {
        let shared = Shared::new(KeySet::default(), false);
        let (to_workers, blocks) = std::sync::mpsc::sync_channel::<Block>(1);
        let blocks = Mutex::new(blocks);
        std::thread::scope(|scope| {
            let panicking = scope.spawn(|| {
                let _guard = StopOnPanic {
                    shared: &shared,
                    blocks: &blocks,
                };
                let _block = blocks.lock().unwrap().recv().unwrap();
                panic!("a bug");
            });
            // Waits for block 0, which the panicking thread took and never admits.
            let waiting = scope.spawn(|| shared.admit(1, &[(7, true)], &[0], &mut Vec::new()));
            for index in 0..20 {
                if shared.stopped.load(Ordering::Acquire) {
                    break;
                }
                let block = Block {
                    index,
                    first_line: 2,
                    bytes: Vec::new(),
                };
                if to_workers.send(block).is_err() {
                    break;
                }
            }
            drop(to_workers);
            assert!(panicking.join().is_err());
            assert!(!waiting.join().unwrap());
        });
        assert!(shared.stopped.load(Ordering::Acquire));
    }

    #[test]
    fn sun_times_are_cached_by_day_in_any_date_order() {
        let tz = chrono_tz::America::Los_Angeles;
        let start = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap();
        // Forwards, backwards past the first date, and far off both ends.
        let offsets = [0i64, 1, 400, -1, -3, -800, 2000, 5, -801, 7000, -7000];
        let mut cache = SunCache::at(Some((37.34, -121.89, tz)));
        for round in 0..2 {
            for &o in &offsets {
                let date = start + chrono::Duration::days(o);
                let t = stats::sun::sun_times(date, 37.34, -121.89, tz).unwrap();
                let expected = (
                    t.sunset.map(|e| i64::from(e.minutes_since_midnight)),
                    t.dusk.map(|e| i64::from(e.minutes_since_midnight)),
                );
                assert!(expected.0.is_some());
                assert_eq!(cache.get(date), expected, "{date}, round {round}");
            }
        }
        let days = cache.days.iter().flatten().count();
        assert_eq!(days, offsets.len(), "each date computed once");
    }

    #[test]
    fn blocks_end_where_records_end() {
        assert_eq!(last_record_end(b"a,b\nc,d\ne"), Some((8, 2)));
        assert_eq!(last_record_end(b"a,b"), None);
        // A line end inside a quoted field is not a record's end (but it is a line end); a
        // doubled quote does not close the field.
        assert_eq!(
            last_record_end(b"1,\"x\ny\"\n2,\"p\"\"q\nr\""),
            Some((8, 2))
        );
        assert_eq!(last_record_end(b"1,\"a\"\"\"\n"), Some((8, 1)));
        // A quote inside an unquoted field is an ordinary character, as the reader has it.
        assert_eq!(last_record_end(b"1,5'11\"\n2,x\n"), Some((12, 2)));
        assert_eq!(last_record_end(b"\"h\"\r\n\"a\nb\"\r\n"), Some((12, 3)));
    }

    /// A reader that gives a few bytes at a time, as a network upload may.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn a_file_is_read_whole_in_blocks_of_whole_records() {
        // Records of all lengths, some longer than a block, some with line ends in quotes.
        let mut file = Vec::new();
        for i in 0..2000 {
            let long = "x".repeat(if i % 500 == 7 {
                BLOCK_BYTES + 10
            } else {
                i % 90
            });
            file.extend_from_slice(format!("{i},\"{long}\n{i}\",\"q\"\"\"\n").as_bytes());
        }
        let mut reader = BlockReader::new(Box::new(Trickle(file.clone(), 100_003)));
        let mut blocks = Vec::new();
        while let Some((b, lines)) = reader.next_block().unwrap() {
            assert_eq!(lines, b.iter().filter(|c| **c == b'\n').count() as u64);
            blocks.push(b);
        }
        assert!(blocks.len() > 3, "{} blocks", blocks.len());
        assert_eq!(blocks.concat(), file);
        let mut records = 0;
        for b in &blocks {
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&b[..]);
            for r in csv.records() {
                let r = r.unwrap();
                assert_eq!(
                    r[1],
                    format!("{}\n{}", &r[1][..r[1].len() - 1 - r[0].len()], &r[0])
                );
                assert_eq!(&r[2], "q\"");
                records += 1;
            }
        }
        assert_eq!(records, 2000);
        assert_eq!(hex(&reader.hasher.finalize()), hex(&Sha256::digest(&file)));
    }

    #[test]
    fn keys_taken_part_by_part_are_those_taken_in_file_order() {
        // Rows with many repeats (identical rows, repeated source ids), some of them stored.
        let keys: Vec<(u128, bool)> = (0..20_000u32)
            .map(|i| {
                let n = i % 7_000;
                (key_of(&n.to_le_bytes()), n % 5 != 0)
            })
            .collect();
        let stored: rustc_hash::FxHashSet<u128> = keys.iter().step_by(3).map(|(k, _)| *k).collect();
        let mut in_file_order = KeySet::new(stored.clone());
        let expected: Vec<Option<u128>> = keys
            .iter()
            .map(|(k, by_content)| in_file_order.admit(*k, *by_content))
            .collect();
        let (mut counts, mut order, mut admitted) = (Vec::new(), Vec::new(), Vec::new());
        let mut by_parts = KeySet::new(stored);
        by_parts.expect_rows(keys.len());
        // In two blocks, as two turns.
        const BLOCK: usize = 12_345;
        for (n, block) in keys.chunks(BLOCK).enumerate() {
            by_part(block, &mut counts, &mut order);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, o)| *o as usize == i));
            by_parts.admit_in_order(block, &order, &mut admitted);
            let from = n * BLOCK;
            assert_eq!(admitted, expected[from..from + block.len()]);
        }
        assert!(expected.iter().any(Option::is_none) && expected.iter().any(Option::is_some));
    }

    #[test]
    fn keys_prefer_the_source_id_and_count_identical_rows() {
        let mut keys = RowKeys::default();
        let r = StopRecord {
            date: NaiveDate::from_ymd_opt(2017, 1, 2).unwrap(),
            subject_race: Some("white".into()),
            ..Default::default()
        };
        let (content, by_content) = keys.key(&r.as_ref().unwrap());
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
        let (id_key, by_content) = keys.key(&with_id.as_ref().unwrap());
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
            assert!(
                seen.insert(RowKeys::default().key(&v.as_ref().unwrap()).0),
                "{v:?}"
            );
        }
    }
}
