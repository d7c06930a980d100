//! The SQL of the transparency slice: imports, stops, the analysis store, population margins.

use crate::platform::db::{Backend, Db, Tx};
use crate::transparency::import::PreparedStop;
use crate::transparency::model::{Cell, ImportReport, StopImport};
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

pub async fn set_import_status(
    db: &Db,
    agency_id: i64,
    id: i64,
    status: &str,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE stop_imports SET status = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(status)
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

pub async fn fail_import(
    db: &Db,
    agency_id: i64,
    id: i64,
    report_json: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'failed', report = $3, finished_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(report_json)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Marks imports that were queued or running when the server stopped as failed, so nobody
/// waits for them. Called once at start-up, before any new import can begin.
pub async fn fail_interrupted_imports(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let report = serde_json::json!({
        "failure": "the server stopped before this import finished; nothing was written, import the file again"
    })
    .to_string();
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE stop_imports SET status = 'failed', report = $1, finished_at = $2 \
             WHERE status IN ('queued', 'running')",
        )
        .bind(&report)
        .bind(now)
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

const STOP_COLUMNS: [&str; 27] = [
    "agency_id",
    "import_id",
    "row_key",
    "stop_date",
    "stop_time",
    "stop_minute",
    "sunset_minute",
    "dusk_minute",
    "location",
    "lat",
    "lng",
    "district",
    "subject_race",
    "subject_sex",
    "subject_age",
    "officer_id",
    "stop_type",
    "reason_for_stop",
    "outcome",
    "arrest_made",
    "citation_issued",
    "warning_issued",
    "frisk_performed",
    "search_conducted",
    "search_basis",
    "contraband_found",
    "id",
];

/// `INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING RETURNING row_key` for `rows` rows (the
/// id is generated): the keys returned are those of the rows written, for the analysis store.
///
/// SQLite gets anonymous `?` placeholders: sqlx looks each numbered placeholder up by name,
/// and SQLite's name lookup walks every parameter, so ten thousand `$n` cost 10⁸ steps per
/// statement (measured: 85% of an import's time), while `?` are bound by position directly.
fn insert_sql(rows: usize, backend: Backend) -> String {
    let cols = &STOP_COLUMNS[..26];
    let mut sql = format!("INSERT INTO stops ({}) VALUES ", cols.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (agency_id, row_key) DO NOTHING RETURNING row_key");
    sql
}

static FULL_BATCH_SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
    let n = crate::transparency::import::BATCH;
    [
        insert_sql(n, Backend::Sqlite),
        insert_sql(n, Backend::Postgres),
    ]
});

/// Writes rows, skipping keys already stored; returns the keys of the rows it wrote.
pub async fn insert_stops(
    tx: &mut Tx,
    agency_id: i64,
    import_id: i64,
    rows: &[PreparedStop],
) -> Result<Vec<String>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = tx.backend();
    let sql: std::borrow::Cow<'static, str> = if rows.len() == crate::transparency::import::BATCH {
        std::borrow::Cow::Borrowed(&FULL_BATCH_SQL[usize::from(backend == Backend::Postgres)])
    } else {
        std::borrow::Cow::Owned(insert_sql(rows.len(), backend))
    };
    macro_rules! bind_all {
        ($q:expr) => {{
            let mut q = $q;
            for p in rows {
                let r = &p.record;
                q = q
                    .bind(agency_id)
                    .bind(import_id)
                    .bind(&p.row_key)
                    .bind(r.date.format("%Y-%m-%d").to_string())
                    .bind(r.time.map(|t| t.format("%H:%M:%S").to_string()))
                    .bind(p.stop_minute)
                    .bind(p.sunset_minute)
                    .bind(p.dusk_minute)
                    .bind(r.location.as_deref())
                    .bind(r.lat)
                    .bind(r.lng)
                    .bind(r.district.as_deref())
                    .bind(r.subject_race.as_deref())
                    .bind(r.subject_sex.as_deref())
                    .bind(r.subject_age)
                    .bind(r.officer_id.as_deref())
                    .bind(r.stop_type.as_deref())
                    .bind(r.reason_for_stop.as_deref())
                    .bind(r.outcome.as_deref())
                    .bind(r.arrest_made)
                    .bind(r.citation_issued)
                    .bind(r.warning_issued)
                    .bind(r.frisk_performed)
                    .bind(r.search_conducted)
                    .bind(r.search_basis.as_deref())
                    .bind(r.contraband_found);
            }
            q
        }};
    }
    on_tx!(tx, |c| {
        bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(&*sql)))
            .fetch_all(&mut **c)
            .await
    })
}

/// Which part of the stops an analysis looks at. Empty strings mean "all".
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
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

/// Cells of the analysis store within a scope.
pub async fn cells(db: &Db, agency_id: i64, scope: &Scope) -> Result<Vec<Cell>, sqlx::Error> {
    let (from, to) = scope.months();
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT month, district, stop_type, subject_race, \
                    CAST(SUM(stops) AS BIGINT) AS stops, CAST(SUM(searches) AS BIGINT) AS searches, \
                    CAST(SUM(searches_with_outcome) AS BIGINT) AS searches_with_outcome, \
                    CAST(SUM(hits) AS BIGINT) AS hits, \
                    CAST(SUM(discretionary_searches) AS BIGINT) AS discretionary_searches, \
                    CAST(SUM(discretionary_hits) AS BIGINT) AS discretionary_hits, \
                    CAST(SUM(frisks) AS BIGINT) AS frisks, CAST(SUM(arrests) AS BIGINT) AS arrests, \
                    CAST(SUM(citations) AS BIGINT) AS citations, CAST(SUM(warnings) AS BIGINT) AS warnings \
             FROM stop_cells WHERE agency_id = $1 AND month >= $2 AND month <= $3 \
               AND ($4 = '' OR district = $4) AND ($5 = '' OR stop_type = $5) \
             GROUP BY month, district, stop_type, subject_race \
             ORDER BY month, district, stop_type, subject_race",
        )
        .bind(agency_id)
        .bind(&from)
        .bind(&to)
        .bind(&scope.district)
        .bind(&scope.stop_type)
        .fetch_all(pool)
        .await
    })
}

/// Years, districts and stop types present in the analysis store (for the filter menus).
pub async fn dimensions(
    db: &Db,
    agency_id: i64,
) -> Result<(Vec<String>, Vec<String>, Vec<String>), sqlx::Error> {
    let years: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT substr(month, 1, 4) AS y FROM stop_cells WHERE agency_id = $1 ORDER BY y",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    let districts: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT district FROM stop_cells WHERE agency_id = $1 AND district <> '' ORDER BY district",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    let types: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT stop_type FROM stop_cells WHERE agency_id = $1 AND stop_type <> '' ORDER BY stop_type",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    Ok((years, districts, types))
}

/// (stops, imports) for the staff home.
pub async fn counts(db: &Db, agency_id: i64) -> Result<(i64, i64), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT CAST(COALESCE((SELECT SUM(stops) FROM stop_cells WHERE agency_id = $1), 0) AS BIGINT), \
                    (SELECT COUNT(*) FROM stop_imports WHERE agency_id = $1 AND status = 'done')",
        )
        .bind(agency_id)
        .fetch_one(pool)
        .await
    })
}

/// One cell of the veil-of-darkness table: stops of the two groups at one rounded clock time,
/// in daylight or darkness, in one district.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct VodCell {
    pub is_dark: i64,
    pub rounded_minute: i64,
    pub district: String,
    pub n_minority: i64,
    pub n_majority: i64,
}

/// The veil-of-darkness cells, filtered as SOPP's `veil_of_darkness.R` does (see
/// `analysis::veil_of_darkness`): the two groups only, stops between the earliest and latest
/// dusk of the period, minus the twilight between sunset and dusk (both ends included).
///
/// Read from the analysis store (`stop_days` for the window, `stop_minutes` for the counts),
/// which holds exactly what the same filter over the stops would count, so the cost does not
/// grow with the number of stops.
pub async fn vod_cells(
    db: &Db,
    agency_id: i64,
    scope: &Scope,
    minority: &str,
    majority: &str,
) -> Result<Vec<VodCell>, sqlx::Error> {
    let (from, to) = scope.dates();
    let bounds: (Option<i64>, Option<i64>) = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT CAST(MIN(dusk_minute) AS BIGINT), CAST(MAX(dusk_minute) AS BIGINT) FROM stop_days \
             WHERE agency_id = $1 AND stop_date >= $2 AND stop_date <= $3 \
               AND (subject_race = $4 OR subject_race = $5) \
               AND ($6 = '' OR district = $6) AND ($7 = '' OR stop_type = $7)",
        )
        .bind(agency_id)
        .bind(&from)
        .bind(&to)
        .bind(minority)
        .bind(majority)
        .bind(&scope.district)
        .bind(&scope.stop_type)
        .fetch_one(pool)
        .await
    })?;
    let (Some(lo), Some(hi)) = bounds else {
        return Ok(Vec::new());
    };
    let (first_year, last_year) = if scope.year.is_empty() {
        ("0000".to_string(), "9999".to_string())
    } else {
        (scope.year.clone(), scope.year.clone())
    };
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT is_dark, CAST(((stop_minute + 2) / 5) * 5 AS BIGINT) AS rounded_minute, district, \
                    CAST(SUM(CASE WHEN subject_race = $4 THEN stops ELSE 0 END) AS BIGINT) AS n_minority, \
                    CAST(SUM(CASE WHEN subject_race = $5 THEN stops ELSE 0 END) AS BIGINT) AS n_majority \
             FROM stop_minutes \
             WHERE agency_id = $1 AND stop_minute >= $8 AND stop_minute <= $9 \
               AND year >= $2 AND year <= $3 \
               AND (subject_race = $4 OR subject_race = $5) \
               AND ($6 = '' OR district = $6) AND ($7 = '' OR stop_type = $7) \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .bind(agency_id)
        .bind(&first_year)
        .bind(&last_year)
        .bind(minority)
        .bind(majority)
        .bind(&scope.district)
        .bind(&scope.stop_type)
        .bind(lo)
        .bind(hi)
        .fetch_all(pool)
        .await
    })
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
