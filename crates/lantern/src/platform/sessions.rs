//! Sign-in sessions, kept in our own database through tower-sessions.
//!
//! The store, not the cookie, decides when a session ends: each request of a signed-in person
//! saves the session (`always_save`), which moves `expires_at` to now + idle timeout on the
//! application clock; a load after that time finds nothing. Sessions also end a fixed time
//! after sign-in whatever the activity. The id is stored only as a SHA-256, so a copy of the
//! database cannot be used to take over a session.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::on_db;
use crate::platform::clock::Clock;
use crate::platform::db::Db;
use crate::platform::secrets::sha256_hex;

/// The session key under which [`SessionAuth`] lives.
pub const AUTH_KEY: &str = "auth";

/// How far through sign-in a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Password accepted; a TOTP code is due.
    Mfa,
    /// Password accepted; the role needs MFA and the person has not enrolled yet.
    Enrol,
    /// Fully signed in.
    Full,
}

/// Who a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    pub agency_id: i64,
    pub user_id: i64,
    pub stage: Stage,
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
    clock: Clock,
    idle_seconds: i64,
    absolute_seconds: i64,
}

impl DbSessionStore {
    pub fn new(
        db: Db,
        clock: Clock,
        idle: std::time::Duration,
        absolute: std::time::Duration,
    ) -> Self {
        DbSessionStore {
            db,
            clock,
            idle_seconds: idle.as_secs() as i64,
            absolute_seconds: absolute.as_secs() as i64,
        }
    }
}

fn key(id: &Id) -> String {
    sha256_hex(id.to_string().as_bytes())
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The agency and user a record belongs to, copied into columns so sessions can be ended per user.
fn owner(record: &Record) -> (Option<i64>, Option<i64>) {
    match record
        .data
        .get(AUTH_KEY)
        .and_then(|v| serde_json::from_value::<SessionAuth>(v.clone()).ok())
    {
        Some(a) => (Some(a.agency_id), Some(a.user_id)),
        None => (None, None),
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = self.clock.unix();
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let (agency_id, user_id) = owner(record);
        loop {
            let inserted = on_db!(&self.db, |pool| {
                sqlx::query(
                    "INSERT INTO sessions (id, agency_id, user_id, data, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(key(&record.id))
                .bind(agency_id)
                .bind(user_id)
                .bind(&data)
                .bind(now)
                .bind(now + self.idle_seconds)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })
            .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            // A 128-bit collision: draw another id.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let now = self.clock.unix();
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let (agency_id, user_id) = owner(record);
        on_db!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO sessions (id, agency_id, user_id, data, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET agency_id = excluded.agency_id, user_id = excluded.user_id, \
                 data = excluded.data, expires_at = excluded.expires_at",
            )
            .bind(key(&record.id))
            .bind(agency_id)
            .bind(user_id)
            .bind(&data)
            .bind(now)
            .bind(now + self.idle_seconds)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.unix();
        let row: Option<(String, i64, i64)> = on_db!(&self.db, |pool| {
            sqlx::query_as("SELECT data, created_at, expires_at FROM sessions WHERE id = $1")
                .bind(key(id))
                .fetch_optional(pool)
                .await
        })
        .map_err(backend)?;
        let Some((data, created_at, expires_at)) = row else {
            return Ok(None);
        };
        if expires_at <= now || created_at + self.absolute_seconds <= now {
            self.delete(id).await?;
            return Ok(None);
        }
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_db!(&self.db, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(key(id))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of one person (after a role change, deactivation or password change).
pub async fn end_all_for_user(db: &Db, agency_id: i64, user_id: i64) -> Result<u64, sqlx::Error> {
    Ok(on_db!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE agency_id = $1 AND user_id = $2")
            .bind(agency_id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Removes sessions that can no longer be used; run periodically by the server.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(on_db!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?)
}
