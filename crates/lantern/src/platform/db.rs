//! The database layer: one enum over SQLite and PostgreSQL.
//!
//! Every query is written once, with `$1, $2…` placeholders (sqlx's SQLite driver accepts
//! them), in the dialect both databases share. The [`on_db!`] macro runs one body on whichever
//! pool or transaction is live, so a store function reads like plain sqlx code.
//!
//! Timestamps are stored as whole seconds since the Unix epoch (`BIGINT`) on both backends:
//! comparisons and ordering then mean the same thing everywhere, and nothing depends on how
//! each driver formats a date.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction on either database. Commit it with [`Tx::commit`]; dropping it rolls
/// back, so an early `?` never leaves half of a change behind.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs one body on whichever backend is live.
///
/// `on_db!(db, |pool| sqlx::query("…").fetch_one(pool).await)` binds `pool` to `&SqlitePool`
/// or `&PgPool`. The body is compiled once per backend, so it must have one type for both:
/// `execute` results differ per driver, so map them (`.map(|r| r.rows_affected())`).
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::platform::db::Db::Sqlite($conn) => $body,
            $crate::platform::db::Db::Postgres($conn) => $body,
        }
    };
}

/// [`on_db!`] for a transaction: `on_tx!(&mut tx, |c| q.execute(&mut **c).await)`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::platform::db::Tx::Sqlite($conn) => $body,
            $crate::platform::db::Tx::Postgres($conn) => $body,
        }
    };
}

/// Which database a URL names, checked before anything connects so a typo gets a clear line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "database URL {0:?} is not supported: use sqlite://PATH (e.g. sqlite://lantern.db) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("database URL {url:?} is malformed: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot open the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(String),
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl(url.to_string()))
        }
    }
}

/// Hides the password of a database URL before it reaches a log line or an error message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Connects and runs pending migrations.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let db = Db::connect_without_migrating(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub async fn connect_without_migrating(url: &str) -> Result<Db, DbError> {
        let shown = redact_url(url);
        let connect_err = |e: sqlx::Error| DbError::Connect {
            url: shown.clone(),
            reason: one_line(&e),
        };
        match Backend::of_url(url)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| DbError::BadUrl {
                        url: shown.clone(),
                        reason: one_line(&e),
                    })?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit is on disk before it returns, so "saved" survives a power
                    // cut as well as a crash; group commit spreads that fsync over many writes.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    // 16 KiB pages for a new database (an existing one keeps its own): stop
                    // chunks are blobs of megabytes, which 4 KiB pages split into long overflow
                    // chains; with 16 KiB a bulk import's commit, whose checkpoint copies every
                    // page it wrote, took a third less time.
                    .page_size(16_384)
                    // Statement journals and sorts in memory: every multi-row INSERT in a
                    // transaction keeps a copy of each page it changes until it ends, and on
                    // a temporary file that was most of a bulk import's time.
                    .pragma("temp_store", "memory")
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Ok(Db::Sqlite(pool))
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url).map_err(|e| DbError::BadUrl {
                    url: shown.clone(),
                    reason: one_line(&e),
                })?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let result = match self {
            Db::Sqlite(pool) => migrator(Backend::Sqlite).run(pool).await,
            Db::Postgres(pool) => migrator(Backend::Postgres).run(pool).await,
        };
        result.map_err(|e| DbError::Migrate(one_line(&e)))?;
        // A change of the analysis store's format is a migration of what it counts.
        crate::transparency::store::rebuild_stale_cells(self)
            .await
            .map_err(|e| {
                DbError::Migrate(format!(
                    "rebuilding the stop analysis store: {}",
                    one_line(&e)
                ))
            })?;
        Ok(())
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes never fails half-way
    /// with a busy snapshot; other writers wait for the busy timeout instead.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await)
    }

    /// Checks that the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Migrations are embedded in the binary: the file name's leading number is the version.
macro_rules! migrations {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../migrations/", $dir, "/", $file)))),*]
    };
}

const SQLITE_MIGRATIONS: &[(&str, &str)] = migrations!("sqlite":
    "0001_platform.sql",
    "0002_surveys.sql",
    "0003_transparency.sql",
    "0004_delivery.sql",
    "0005_stop_chunks.sql",
    "0007_stop_month_cells.sql",
    "0008_stop_import_claims.sql",
    "0009_stop_cells_missing.sql",
    "0010_publications.sql",
);
const POSTGRES_MIGRATIONS: &[(&str, &str)] = migrations!("postgres":
    "0001_platform.sql",
    "0002_surveys.sql",
    "0003_transparency.sql",
    "0004_delivery.sql",
    "0005_stop_chunks.sql",
    "0006_stop_chunks_uncompressed.sql",
    "0007_stop_month_cells.sql",
    "0008_stop_import_claims.sql",
    "0009_stop_cells_missing.sql",
    "0010_publications.sql",
);

fn migrator(backend: Backend) -> Migrator {
    let files = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    let migrations = files
        .iter()
        .map(|(name, sql)| {
            let (version, description) = name
                .trim_end_matches(".sql")
                .split_once('_')
                .expect("migration files are named NNNN_description.sql");
            Migration::new(
                version.parse().expect("migration version is a number"),
                description.replace('_', " ").into(),
                MigrationType::Simple,
                sqlx::AssertSqlSafe(*sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

use sqlx::SqlSafeStr as _;

/// sqlx errors can span lines (PostgreSQL adds detail); the CLI promises one line.
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when an error is a unique-constraint violation on either backend.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_read_from_the_url_scheme() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::of_url("mysql://u@h/db").unwrap_err().to_string();
        assert!(
            err.contains("mysql://u@h/db") && err.contains("sqlite://"),
            "{err}"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://lantern:s3cret@db:5432/x"),
            "postgres://lantern:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://lantern@db/x"),
            "postgres://lantern@db/x"
        );
        assert_eq!(redact_url("sqlite://lantern.db"), "sqlite://lantern.db");
    }
}
