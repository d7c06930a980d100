//! The SQL of the transparency slice: imports, stops, the analysis store, population margins.

use std::collections::BTreeMap;

use crate::platform::db::{Backend, Db, Tx};
use crate::transparency::chunks::{self, EncodedChunk};
use crate::transparency::import::StoredStop;
use crate::transparency::model::{Cell, FromOutcome, ImportReport, StopImport};
use crate::transparency::tally::{self, LIGHT_DAYS, LIGHT_MINUTES, Light};
use crate::{on_db, on_tx};

const IMPORT_COLUMNS: &str = "id, file_name, format, sha256, status, skip_invalid, rows_read, rows_inserted, \
     rows_duplicate, rows_invalid, report, created_at, finished_at";

#[allow(clippy::too_many_arguments)]
pub async fn create_import(
    db: &Db,
    agency_id: i64,
    file_name: &str,
    format: &str,
    skip_invalid: bool,
    created_by: Option<i64>,
    status: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "INSERT INTO stop_imports (agency_id, file_name, format, status, skip_invalid, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(agency_id)
        .bind(file_name)
        .bind(format)
        .bind(status)
        .bind(skip_invalid)
        .bind(created_by)
        .bind(now)
        .fetch_one(pool)
        .await
    })
}

/// Records the SHA-256 of an import's file before the import reads it (the API and the page
/// hold the whole file; the import records the hash it computes again as it reads).
pub async fn record_sha256(
    db: &Db,
    agency_id: i64,
    id: i64,
    sha256: &str,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE stop_imports SET sha256 = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(sha256)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

const FINISH_SQL: &str = "UPDATE stop_imports SET status = $3, rows_read = $4, rows_inserted = $5, \
     rows_duplicate = $6, rows_invalid = $7, report = $8, sha256 = $9, finished_at = $10 \
     WHERE agency_id = $1 AND id = $2";

pub async fn finish_import(
    db: &Db,
    agency_id: i64,
    id: i64,
    status: &str,
    report: &ImportReport,
    sha256: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if status != "done" {
        discard_chunks(&mut tx, agency_id, id).await?;
    }
    finish_import_tx(&mut tx, agency_id, id, status, report, sha256, now).await?;
    tx.commit().await
}

pub async fn finish_import_tx(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    status: &str,
    report: &ImportReport,
    sha256: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(report).unwrap_or_default();
    on_tx!(tx, |c| {
        sqlx::query(FINISH_SQL)
            .bind(agency_id)
            .bind(id)
            .bind(status)
            .bind(report.rows_read as i64)
            .bind(report.rows_inserted as i64)
            .bind(report.rows_duplicate as i64)
            .bind(report.rows_invalid as i64)
            .bind(&json)
            .bind(sha256)
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|_| ())
    })
}

/// Marks an import failed and deletes the chunks it wrote.
pub async fn fail_import(
    db: &Db,
    agency_id: i64,
    id: i64,
    report_json: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    discard_chunks(&mut tx, agency_id, id).await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'failed', report = $3, finished_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(report_json)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await
}

/// Deletes the chunks an import wrote (one that did not finish).
async fn discard_chunks(tx: &mut Tx, agency_id: i64, id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM stop_chunks WHERE agency_id = $1 AND import_id = $2")
            .bind(agency_id)
            .bind(id)
            .execute(&mut **c)
            .await
            .map(|_| ())
    })
}

/// Marks imports that were queued or running when the server stopped as failed, so nobody
/// waits for them. Called once at start-up, before any new import can begin. A running import
/// that renewed its claim within [`STALE_AFTER_SECS`] is left alone: it is another process's
/// (the command line's). The chunks of the failed ones are deleted by the agency's next import.
pub async fn fail_interrupted_imports(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let report = serde_json::json!({
        "failure": "the server stopped before this import finished; nothing of it was kept, import the file again"
    })
    .to_string();
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'failed', report = $1, finished_at = $2 \
             WHERE status = 'queued' OR (status = 'running' \
               AND (heartbeat_at IS NULL OR heartbeat_at < $3))",
        )
        .bind(&report)
        .bind(now)
        .bind(wall_seconds() - STALE_AFTER_SECS)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })
}

pub async fn imports(db: &Db, agency_id: i64) -> Result<Vec<StopImport>, sqlx::Error> {
    let sql = format!(
        "SELECT {IMPORT_COLUMNS} FROM stop_imports WHERE agency_id = $1 ORDER BY id DESC LIMIT 100"
    );
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .fetch_all(pool)
            .await
    })
}

pub async fn import(db: &Db, agency_id: i64, id: i64) -> Result<Option<StopImport>, sqlx::Error> {
    let sql = format!("SELECT {IMPORT_COLUMNS} FROM stop_imports WHERE agency_id = $1 AND id = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

/// How long a running import may go without renewing its claim before the agency's next
/// import takes it for stopped. An import renews it at least every few seconds.
pub const STALE_AFTER_SECS: i64 = 60;

/// The wall clock, in seconds since the epoch: claims are renewed and judged by it, whatever
/// clock stamps the records.
pub fn wall_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Claims the agency for import `id`, so that no two imports of one agency write at once
/// (each would miss the other's stops in its re-import check): false while another import
/// of the agency runs and renews its claim. An import whose claim went stale (its process
/// ended) is marked failed, and the chunks of failed imports are deleted. On success the
/// import is 'running'.
pub async fn claim_import(db: &Db, agency_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    // BEGIN IMMEDIATE on SQLite, and the agency's advisory lock on PostgreSQL: one claim at a
    // time, so two imports cannot both find the agency free.
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        on_tx!(&mut tx, |c| {
            sqlx::query("SELECT pg_advisory_xact_lock(7411, CAST($1 AS INTEGER))")
                .bind(agency_id)
                .execute(&mut **c)
                .await
                .map(|_| ())
        })?;
    }
    let now = wall_seconds();
    let stale = now - STALE_AFTER_SECS;
    let live: i64 = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM stop_imports WHERE agency_id = $1 AND id <> $2 \
             AND status = 'running' AND heartbeat_at >= $3",
        )
        .bind(agency_id)
        .bind(id)
        .bind(stale)
        .fetch_one(&mut **c)
        .await
    })?;
    if live > 0 {
        return Ok(false);
    }
    let report = serde_json::json!({
        "failure": "the import stopped before it finished (its process ended); nothing was kept, import the file again"
    })
    .to_string();
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'failed', report = $3, finished_at = $4 \
             WHERE agency_id = $1 AND id <> $2 AND status = 'running' AND heartbeat_at < $5",
        )
        .bind(agency_id)
        .bind(id)
        .bind(&report)
        .bind(now)
        .bind(stale)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "DELETE FROM stop_chunks WHERE agency_id = $1 AND import_id IN \
             (SELECT id FROM stop_imports WHERE agency_id = $1 AND status = 'failed')",
        )
        .bind(agency_id)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'running', heartbeat_at = $3 \
             WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(true)
}

/// Renews import `id`'s claim in `tx`: false when it has lost it (another import found it
/// stale, or the server marked it interrupted), and must stop.
pub async fn renew_claim(tx: &mut Tx, agency_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE stop_imports SET heartbeat_at = $3 \
             WHERE agency_id = $1 AND id = $2 AND status = 'running'",
        )
        .bind(agency_id)
        .bind(id)
        .bind(wall_seconds())
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected() == 1)
    })
}

/// The row keys of every stop the agency has (in chunks of finished imports).
pub async fn stop_keys(
    tx: &mut Tx,
    agency_id: i64,
) -> Result<rustc_hash::FxHashSet<u128>, sqlx::Error> {
    let blobs: Vec<Vec<u8>> = on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT c.keys FROM stop_chunks c JOIN stop_imports i \
             ON i.agency_id = c.agency_id AND i.id = c.import_id \
             WHERE c.agency_id = $1 AND i.status = 'done'",
        )
        .bind(agency_id)
        .fetch_all(&mut **c)
        .await
    })?;
    let n = blobs.iter().map(|b| b.len() / 16).sum();
    let mut keys = rustc_hash::FxHashSet::with_capacity_and_hasher(n, Default::default());
    for b in &blobs {
        keys.extend(chunks::decode_keys(b));
    }
    Ok(keys)
}

pub async fn insert_chunk(
    tx: &mut Tx,
    agency_id: i64,
    import_id: i64,
    chunk: i64,
    encoded: EncodedChunk,
) -> Result<(), sqlx::Error> {
    // The blobs are handed over, not copied: they are megabytes per chunk.
    let EncodedChunk { rows, keys, data } = encoded;
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO stop_chunks (agency_id, import_id, chunk, format, stops, keys, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(agency_id)
        .bind(import_id)
        .bind(chunk)
        .bind(chunks::FORMAT)
        .bind(rows)
        .bind(keys)
        .bind(data)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })
}

/// Every stop of the agency (of finished imports), import by import in the order written.
pub async fn stops(db: &Db, agency_id: i64) -> Result<Vec<StoredStop>, sqlx::Error> {
    type Chunk = (i64, i64, Vec<u8>, Vec<u8>);
    let stored: Vec<Chunk> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT c.format, c.stops, c.keys, c.data FROM stop_chunks c JOIN stop_imports i \
             ON i.agency_id = c.agency_id AND i.id = c.import_id \
             WHERE c.agency_id = $1 AND i.status = 'done' ORDER BY c.import_id, c.chunk",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    let mut out = Vec::new();
    for (format, rows, keys, data) in stored {
        out.extend(
            chunks::decode(format, rows, &keys, &data)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
        );
    }
    Ok(out)
}

/// The chunks of the agency's finished imports, in the order written: (import, chunk, the
/// import's `derived_from_outcome`). Read them one at a time with [`chunk_columns`].
pub async fn finished_chunks(
    db: &Db,
    agency_id: i64,
) -> Result<Vec<(i64, i64, Option<String>)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT c.import_id, c.chunk, i.derived_from_outcome FROM stop_chunks c \
             JOIN stop_imports i ON i.agency_id = c.agency_id AND i.id = c.import_id \
             WHERE c.agency_id = $1 AND i.status = 'done' ORDER BY c.import_id, c.chunk",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

/// One chunk's format, stops and columns (see [`chunks::StoredColumns::decode`]).
pub async fn chunk_columns(
    db: &Db,
    agency_id: i64,
    import_id: i64,
    chunk: i64,
) -> Result<(i64, i64, Vec<u8>), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT format, stops, data FROM stop_chunks \
             WHERE agency_id = $1 AND import_id = $2 AND chunk = $3",
        )
        .bind(agency_id)
        .bind(import_id)
        .bind(chunk)
        .fetch_one(pool)
        .await
    })
}

/// Which part of the stops an analysis looks at. Empty strings mean "all".
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
pub struct Scope {
    /// A calendar year, "2017", or empty for every year.
    #[serde(default)]
    pub year: String,
    #[serde(default)]
    pub district: String,
    /// vehicular, pedestrian, or empty for both.
    #[serde(default)]
    pub stop_type: String,
}

impl Scope {
    fn months(&self) -> (String, String) {
        if self.year.is_empty() {
            ("0000-00".into(), "9999-99".into())
        } else {
            (format!("{}-01", self.year), format!("{}-12", self.year))
        }
    }

    /// The date range, both ends included.
    pub fn dates(&self) -> (String, String) {
        if self.year.is_empty() {
            ("0000-00-00".into(), "9999-99-99".into())
        } else {
            (
                format!("{}-01-01", self.year),
                format!("{}-12-31", self.year),
            )
        }
    }
}

/// Cells of the analysis store within a scope, by month, district, stop type and race (summed
/// over sex and age group), in that order.
pub async fn cells(db: &Db, agency_id: i64, scope: &Scope) -> Result<Vec<Cell>, sqlx::Error> {
    let (from, to) = scope.months();
    let rows: Vec<(String, String, String)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT month, district, cells FROM stop_month_cells \
             WHERE agency_id = $1 AND month >= $2 AND month <= $3 AND ($4 = '' OR district = $4)",
        )
        .bind(agency_id)
        .bind(&from)
        .bind(&to)
        .bind(&scope.district)
        .fetch_all(pool)
        .await
    })?;
    let mut sums: BTreeMap<(&str, &str, &str, &str), [u64; tally::COUNTS]> = BTreeMap::new();
    for (month, district, text) in &rows {
        for line in tally::read_cells(text).map_err(|e| sqlx::Error::Decode(e.into()))? {
            let [stop_type, race, _, _] = line.names;
            if !scope.stop_type.is_empty() && stop_type != scope.stop_type {
                continue;
            }
            let sum = sums.entry((month, district, stop_type, race)).or_default();
            for (a, b) in sum.iter_mut().zip(line.counts) {
                *a += b;
            }
        }
    }
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(sums
        .into_iter()
        .map(|((month, district, stop_type, race), c)| Cell {
            month: month.to_string(),
            district: district.to_string(),
            stop_type: stop_type.to_string(),
            subject_race: race.to_string(),
            stops: count(c[0]),
            searches: count(c[1]),
            searches_with_outcome: count(c[2]),
            hits: count(c[3]),
            discretionary_searches: count(c[4]),
            discretionary_hits: count(c[5]),
            frisks: count(c[6]),
            arrests: count(c[7]),
            citations: count(c[8]),
            warnings: count(c[9]),
            search_missing: count(c[10]),
            frisk_missing: count(c[11]),
            arrest_missing: count(c[12]),
            citation_missing: count(c[13]),
            warning_missing: count(c[14]),
            discretionary_missing_result: count(c[15]),
        })
        .collect())
}

/// Records which outcomes an import counted from `outcome` (its file had no column for them).
pub async fn set_from_outcome(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    from_outcome: FromOutcome,
) -> Result<(), sqlx::Error> {
    let text = from_outcome.to_text();
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE stop_imports SET derived_from_outcome = $3 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(&text)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })
}

/// Where the agency's arrests, citations and warnings come from: for each of
/// [`FromOutcome::FIELDS`], how many finished imports took it from the file's own column and
/// how many from `outcome`.
pub async fn outcome_sources(db: &Db, agency_id: i64) -> Result<Vec<OutcomeSource>, sqlx::Error> {
    let rows: Vec<(Option<String>, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT derived_from_outcome, COUNT(*) FROM stop_imports \
             WHERE agency_id = $1 AND status = 'done' AND rows_inserted > 0 \
             GROUP BY derived_from_outcome",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    Ok(FromOutcome::FIELDS
        .iter()
        .enumerate()
        .map(|(i, (column, _))| {
            let mut source = OutcomeSource {
                field: column.to_string(),
                imports_from_column: 0,
                imports_from_outcome: 0,
            };
            for (text, n) in &rows {
                if FromOutcome::from_text(text.as_deref().unwrap_or("")).derived(i) {
                    source.imports_from_outcome += n;
                } else {
                    source.imports_from_column += n;
                }
            }
            source
        })
        .collect())
}

/// Where one of arrest, citation and warning is counted from, over an agency's imports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomeSource {
    /// arrest_made, citation_issued or warning_issued.
    pub field: String,
    /// Imports whose file has this column: its value counts, a missing value is missing.
    pub imports_from_column: i64,
    /// Imports whose file has no such column: counted from `outcome` (SOPP's strictest action
    /// taken), missing where `outcome` is.
    pub imports_from_outcome: i64,
}

impl OutcomeSource {
    /// A sentence for the page under the rate's table.
    pub fn sentence(&self) -> String {
        let category = FromOutcome::FIELDS
            .iter()
            .find(|(c, _)| *c == self.field)
            .map_or("", |(_, o)| *o);
        match (self.imports_from_column, self.imports_from_outcome) {
            (_, 0) => format!("Counted from the files' {} column.", self.field),
            (0, _) => format!(
                "Counted from outcome (= {category}): the files have no {} column, and outcome records only the strictest action taken.",
                self.field
            ),
            (c, o) => format!(
                "Counted from the {} column in {c} import(s) and from outcome (= {category}) in {o} import(s) whose files have no such column.",
                self.field
            ),
        }
    }
}

/// Counts the analysis store's cells (`stop_month_cells`) again from the stored chunks for
/// every agency whose cells are of an older format than [`tally::CELLS_FORMAT`]: what they
/// count cannot be converted (format 1 counted a missing value as "no"), but the stops
/// themselves are in the chunks. Runs when the database is migrated, before anything reads the
/// store; returns the agencies rebuilt.
///
/// An import of format 1 did not record which outcomes it took from `outcome`; it is taken to
/// have had no column for a field when none of its stops records that field (a file with the
/// column would record it for some stop), and that is then recorded on the import.
pub async fn rebuild_stale_cells(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    let agencies: Vec<i64> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT agency_id FROM stop_month_cells WHERE format < $1 ORDER BY agency_id",
        )
        .bind(tally::CELLS_FORMAT)
        .fetch_all(pool)
        .await
    })?;
    for agency_id in &agencies {
        rebuild_cells(db, *agency_id).await?;
    }
    Ok(agencies)
}

async fn rebuild_cells(db: &Db, agency_id: i64) -> Result<(), sqlx::Error> {
    let decode_err = |e: String| sqlx::Error::Decode(e.into());
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        // An import finishing meanwhile waits, then adds its counts to the rebuilt rows.
        on_tx!(&mut tx, |c| {
            sqlx::query("LOCK TABLE stop_month_cells IN EXCLUSIVE MODE")
                .execute(&mut **c)
                .await
                .map(|_| ())
        })?;
    }
    let imports: Vec<(i64, Option<String>)> = on_tx!(&mut tx, |c| {
        sqlx::query_as(
            "SELECT id, derived_from_outcome FROM stop_imports \
             WHERE agency_id = $1 AND status = 'done' ORDER BY id",
        )
        .bind(agency_id)
        .fetch_all(&mut **c)
        .await
    })?;
    let mut counts = tally::Tally::default();
    for (import_id, derived) in imports {
        let from_outcome = match derived {
            Some(text) => FromOutcome::from_text(&text),
            None => {
                // Which outcome fields no stop of the import records.
                let mut recorded = [false; 3];
                for chunk in import_chunks(&mut tx, agency_id, import_id).await? {
                    let (format, rows, data) =
                        import_chunk(&mut tx, agency_id, import_id, chunk).await?;
                    let columns =
                        chunks::StoredColumns::decode(format, rows, &data).map_err(decode_err)?;
                    let stops = columns.counted();
                    for i in 0..stops.len() {
                        let flags = stops.get(i).flags;
                        for (k, seen) in recorded.iter_mut().enumerate() {
                            *seen |= chunks::flag(flags, k).is_some();
                        }
                    }
                }
                let from_outcome = FromOutcome {
                    arrest: !recorded[0],
                    citation: !recorded[1],
                    warning: !recorded[2],
                };
                set_from_outcome(&mut tx, agency_id, import_id, from_outcome).await?;
                from_outcome
            }
        };
        counts.count_as(from_outcome);
        for chunk in import_chunks(&mut tx, agency_id, import_id).await? {
            let (format, rows, data) = import_chunk(&mut tx, agency_id, import_id, chunk).await?;
            let columns = chunks::StoredColumns::decode(format, rows, &data).map_err(decode_err)?;
            counts.count_chunk(&columns.counted());
        }
    }
    counts.check().map_err(decode_err)?;
    on_tx!(&mut tx, |c| {
        sqlx::query("DELETE FROM stop_month_cells WHERE agency_id = $1")
            .bind(agency_id)
            .execute(&mut **c)
            .await
            .map(|_| ())
    })?;
    counts.write_cells(&mut tx, agency_id).await?;
    tx.commit().await
}

/// The chunk numbers of one import (read one by one: an import's chunks can be gigabytes).
async fn import_chunks(
    tx: &mut Tx,
    agency_id: i64,
    import_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT chunk FROM stop_chunks WHERE agency_id = $1 AND import_id = $2 ORDER BY chunk",
        )
        .bind(agency_id)
        .bind(import_id)
        .fetch_all(&mut **c)
        .await
    })
}

/// One chunk's format, stops and columns.
async fn import_chunk(
    tx: &mut Tx,
    agency_id: i64,
    import_id: i64,
    chunk: i64,
) -> Result<(i64, i64, Vec<u8>), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT format, stops, data FROM stop_chunks \
             WHERE agency_id = $1 AND import_id = $2 AND chunk = $3",
        )
        .bind(agency_id)
        .bind(import_id)
        .bind(chunk)
        .fetch_one(&mut **c)
        .await
    })
}

/// The rows of `stop_month_cells` from month `from` to `to` (YYYY-MM, both included): month,
/// district and cells.
pub async fn month_cells_in(
    tx: &mut Tx,
    agency_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT month, district, cells FROM stop_month_cells \
             WHERE agency_id = $1 AND month >= $2 AND month <= $3",
        )
        .bind(agency_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut **c)
        .await
    })
}

/// Years and districts present in the analysis store (for the filter menus).
/// The number of the agency's newest finished import (0 before any): what the analysis store
/// last changed with.
pub async fn newest_done_import(db: &Db, agency_id: i64) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM stop_imports WHERE agency_id = $1 AND status = 'done'",
        )
        .bind(agency_id)
        .fetch_one(pool)
        .await
    })
}

/// The newest month with stops ("2026-10"), for "data through …".
pub async fn newest_month(db: &Db, agency_id: i64) -> Result<Option<String>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT MAX(month) FROM stop_month_cells WHERE agency_id = $1")
            .bind(agency_id)
            .fetch_one(pool)
            .await
    })
}

pub async fn dimensions(
    db: &Db,
    agency_id: i64,
) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    let years: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT substr(month, 1, 4) AS y FROM stop_month_cells WHERE agency_id = $1 ORDER BY y",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    let districts: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT district FROM stop_month_cells WHERE agency_id = $1 AND district <> '' ORDER BY district",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    Ok((years, districts))
}

/// (stops, imports) for the staff home.
pub async fn counts(db: &Db, agency_id: i64) -> Result<(i64, i64), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT CAST(COALESCE((SELECT SUM(stops) FROM stop_month_cells WHERE agency_id = $1), 0) AS BIGINT), \
                    (SELECT COUNT(*) FROM stop_imports WHERE agency_id = $1 AND status = 'done')",
        )
        .bind(agency_id)
        .fetch_one(pool)
        .await
    })
}

/// One cell of the veil-of-darkness table: stops of the two groups at one rounded clock time,
/// in daylight or darkness, in one district.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VodCell {
    pub is_dark: i64,
    pub rounded_minute: i64,
    pub district: String,
    pub n_minority: i64,
    pub n_majority: i64,
}

/// One row of the veil-of-darkness store (`stop_light`): the stops of one year, district,
/// stop type and race by minute of the day in daylight and darkness, and by day of the year.
#[derive(Clone, Debug, PartialEq)]
pub struct LightRow {
    pub year: String,
    pub district: String,
    pub stop_type: String,
    pub subject_race: String,
    pub light: Light,
}

/// Counts as `stop_light` stores them: 32-bit little-endian numbers.
pub(crate) fn counts_to_blob(counts: &[u32]) -> Vec<u8> {
    counts.iter().flat_map(|c| c.to_le_bytes()).collect()
}

fn blob_to_counts(blob: &[u8], len: usize) -> Result<Vec<u32>, sqlx::Error> {
    if blob.len() != 4 * len {
        return Err(sqlx::Error::Decode(
            format!(
                "stop_light holds {} bytes where {} were expected",
                blob.len(),
                4 * len
            )
            .into(),
        ));
    }
    Ok(blob
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect())
}

type LightTuple = (String, String, String, String, Vec<u8>, Vec<u8>);

const LIGHT_SQL: &str = "SELECT year, district, stop_type, subject_race, minutes, days FROM stop_light \
     WHERE agency_id = $1 ORDER BY year, district, stop_type, subject_race";

fn light_row(t: LightTuple) -> Result<LightRow, sqlx::Error> {
    let (year, district, stop_type, subject_race, minutes, days) = t;
    Ok(LightRow {
        year,
        district,
        stop_type,
        subject_race,
        light: Light {
            minutes: blob_to_counts(&minutes, LIGHT_MINUTES)?,
            days: blob_to_counts(&days, LIGHT_DAYS)?,
        },
    })
}

/// The agency's veil-of-darkness store, read in an import's transaction.
pub async fn light_rows(tx: &mut Tx, agency_id: i64) -> Result<Vec<LightRow>, sqlx::Error> {
    let rows: Vec<LightTuple> = on_tx!(tx, |c| {
        sqlx::query_as(LIGHT_SQL)
            .bind(agency_id)
            .fetch_all(&mut **c)
            .await
    })?;
    rows.into_iter().map(light_row).collect()
}

/// The agency's veil-of-darkness store.
pub async fn light_store(db: &Db, agency_id: i64) -> Result<Vec<LightRow>, sqlx::Error> {
    let rows: Vec<LightTuple> = on_db!(db, |pool| {
        sqlx::query_as(LIGHT_SQL)
            .bind(agency_id)
            .fetch_all(pool)
            .await
    })?;
    rows.into_iter().map(light_row).collect()
}

/// Dusk (minutes after local midnight) of each date the store has stops on.
pub async fn dusk(
    db: &Db,
    agency_id: i64,
) -> Result<std::collections::HashMap<chrono::NaiveDate, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT stop_date, dusk_minute FROM stop_dusk WHERE agency_id = $1")
            .bind(agency_id)
            .fetch_all(pool)
            .await
    })?;
    rows.into_iter()
        .map(|(date, dusk)| {
            let date = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map_err(|e| sqlx::Error::Decode(format!("stop_dusk date {date:?}: {e}").into()))?;
            Ok((date, dusk))
        })
        .collect()
}

/// The dates a row of the store counts stops on, with how many.
pub fn light_days(row: &LightRow) -> impl Iterator<Item = (chrono::NaiveDate, u32)> + '_ {
    let year: i32 = row.year.parse().unwrap_or(0);
    let first = chrono::NaiveDate::from_ymd_opt(year, 1, 1);
    row.light
        .days
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .filter_map(move |(i, n)| Some((first?.checked_add_days(chrono::Days::new(i as u64))?, *n)))
}

/// The veil-of-darkness cells, filtered as SOPP's `veil_of_darkness.R` does (see
/// `analysis::veil_of_darkness`): the two groups only, stops between the earliest and latest
/// dusk of the period, minus the twilight between sunset and dusk (both ends included).
///
/// Read from the analysis store (`stop_light`, `stop_dusk`), which holds exactly what the same
/// filter over the stops would count, so the cost does not grow with the number of stops.
pub async fn vod_cells(
    db: &Db,
    agency_id: i64,
    scope: &Scope,
    minority: &str,
    majority: &str,
) -> Result<Vec<VodCell>, sqlx::Error> {
    let rows: Vec<LightRow> = light_store(db, agency_id)
        .await?
        .into_iter()
        .filter(|r| {
            (scope.year.is_empty() || r.year == scope.year)
                && (scope.district.is_empty() || r.district == scope.district)
                && (scope.stop_type.is_empty() || r.stop_type == scope.stop_type)
                && (r.subject_race == minority || r.subject_race == majority)
        })
        .collect();
    // The window: the earliest and latest dusk over the dates these stops fall on.
    let dusk = dusk(db, agency_id).await?;
    let mut window: Option<(i64, i64)> = None;
    for row in &rows {
        for (date, _) in light_days(row) {
            if let Some(d) = dusk.get(&date) {
                window = Some(window.map_or((*d, *d), |(lo, hi)| (lo.min(*d), hi.max(*d))));
            }
        }
    }
    let Some((lo, hi)) = window else {
        return Ok(Vec::new());
    };
    let mut cells: std::collections::BTreeMap<(i64, i64, String), (i64, i64)> = Default::default();
    for row in &rows {
        let is_minority = row.subject_race == minority;
        for (slot, n) in row.light.minutes.iter().enumerate() {
            let minute = (slot % 1440) as i64;
            if *n == 0 || minute < lo || minute > hi {
                continue;
            }
            let is_dark = (slot >= 1440) as i64;
            let rounded = (minute + 2) / 5 * 5;
            let cell = cells
                .entry((is_dark, rounded, row.district.clone()))
                .or_default();
            if is_minority {
                cell.0 += i64::from(*n);
            } else {
                cell.1 += i64::from(*n);
            }
        }
    }
    Ok(cells
        .into_iter()
        .map(
            |((is_dark, rounded_minute, district), (n_minority, n_majority))| VodCell {
                is_dark,
                rounded_minute,
                district,
                n_minority,
                n_majority,
            },
        )
        .collect())
}

/// Replaces the race margin of one geography (the agency, or a district code).
pub async fn replace_race_margin(
    tx: &mut Tx,
    agency_id: i64,
    geography: &str,
    rows: &[(String, i64)],
    source: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "DELETE FROM population_margins WHERE agency_id = $1 AND geography = $2 AND dimension = 'race'",
        )
        .bind(agency_id)
        .bind(geography)
        .execute(&mut **c)
        .await
        .map(|_| ())
    })?;
    for (race, population) in rows {
        on_tx!(tx, |c| {
            sqlx::query(
                "INSERT INTO population_margins (agency_id, geography, dimension, category, population, source) \
                 VALUES ($1, $2, 'race', $3, $4, $5)",
            )
            .bind(agency_id)
            .bind(geography)
            .bind(race)
            .bind(population)
            .bind(source)
            .execute(&mut **c)
            .await
            .map(|_| ())
        })?;
    }
    Ok(())
}

/// The race margin of one geography: (category, population, source).
pub async fn race_margin(
    db: &Db,
    agency_id: i64,
    geography: &str,
) -> Result<Vec<(String, i64, String)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT category, population, source FROM population_margins \
             WHERE agency_id = $1 AND geography = $2 AND dimension = 'race' ORDER BY category",
        )
        .bind(agency_id)
        .bind(geography)
        .fetch_all(pool)
        .await
    })
}
