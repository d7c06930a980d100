//! `lantern backup PATH`: a consistent copy of a SQLite database, taken while the server runs.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so the copy is a snapshot
//! even while writers carry on (WAL mode lets them), and the result is compact and
//! self-contained (no `-wal` file to carry along). PostgreSQL has its own tool for this.

use std::path::Path;

use crate::platform::db::{Db, one_line};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "this database is PostgreSQL: back it up with pg_dump, e.g. `pg_dump --format=custom --file=lantern.dump \"$LANTERN_DATABASE_URL\"` (restore with pg_restore)"
    )]
    Postgres,
    #[error("{0} already exists: choose a new file name (a backup never overwrites)")]
    Exists(String),
    #[error("the folder {0} does not exist")]
    NoFolder(String),
    #[error("backup failed: {0}")]
    Failed(String),
}

/// Writes a snapshot of the database to `target` and returns its size in bytes.
pub async fn backup(db: &Db, target: &Path) -> Result<u64, BackupError> {
    let Db::Sqlite(pool) = db else {
        return Err(BackupError::Postgres);
    };
    let shown = target.display().to_string();
    if target.exists() {
        return Err(BackupError::Exists(shown));
    }
    if let Some(parent) = target.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(BackupError::NoFolder(parent.display().to_string()));
    }
    sqlx::query("VACUUM INTO $1")
        .bind(&shown)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| BackupError::Failed(one_line(&e)))?;
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| BackupError::Failed(one_line(&e)))
}
