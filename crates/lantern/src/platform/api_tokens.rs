//! Per-agency API tokens for integrations (CAD/RMS exports, scripts). A token is shown once
//! when an admin creates it; only its SHA-256 is stored, so a copy of the database does not
//! reveal working tokens. Each token acts with one role, checked by the same policy as people.

use serde::Serialize;

use crate::platform::accounts::Role;
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::Db;
use crate::platform::secrets::{random_token, sha256_hex};
use crate::{on_db, on_tx};

/// Every token starts with this, so secret scanners can recognise a leaked one.
pub const PREFIX: &str = "lnt_";

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct ApiToken {
    pub agency_id: i64,
    pub id: i64,
    pub name: String,
    role: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Staff)
    }

    pub fn actor(&self) -> Actor {
        Actor::Token {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

const COLUMNS: &str = "agency_id, id, name, role, prefix, created_at, last_used_at, revoked_at";

pub fn validate_name(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err("Name must be 1 to 80 characters, e.g. \"CAD nightly export\"".to_string());
    }
    Ok(name)
}

/// Creates a token and returns it with its secret, which is never retrievable again.
pub async fn create(
    db: &Db,
    agency_id: i64,
    name: &str,
    role: Role,
    creator: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<(ApiToken, String), sqlx::Error> {
    let secret = format!("{PREFIX}{}", random_token(32));
    let shown_prefix: String = secret.chars().take(PREFIX.len() + 6).collect();
    let mut tx = db.begin().await?;
    let id: i64 = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO api_tokens (agency_id, name, role, token_hash, prefix, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(agency_id)
        .bind(name)
        .bind(role.as_str())
        .bind(sha256_hex(secret.as_bytes()))
        .bind(&shown_prefix)
        .bind(creator.user_id())
        .bind(now)
        .fetch_one(&mut **c)
        .await
    })?;
    audit::append(
        &mut tx,
        agency_id,
        now,
        &Event::new(creator, "token.created", format!("token:{id}"))
            .detail(serde_json::json!({"name": name, "role": role.as_str()}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    let token = get(db, agency_id, id)
        .await?
        .expect("the token just created exists");
    Ok((token, secret))
}

pub async fn get(db: &Db, agency_id: i64, id: i64) -> Result<Option<ApiToken>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE agency_id = $1 AND id = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

pub async fn list(db: &Db, agency_id: i64) -> Result<Vec<ApiToken>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE agency_id = $1 ORDER BY revoked_at IS NOT NULL, name"
    );
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .fetch_all(pool)
            .await
    })
}

/// Revokes a token; returns false when it does not exist or was already revoked.
pub async fn revoke(
    db: &Db,
    agency_id: i64,
    id: i64,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = on_tx!(&mut tx, |c| {
        sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE agency_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(agency_id)
            .bind(id)
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })? == 1;
    if done {
        audit::append(
            &mut tx,
            agency_id,
            now,
            &Event::new(actor, "token.revoked", format!("token:{id}")).ip(ip),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(done)
}

/// Finds the live token a request presents. Marks it used at most once a minute, so a busy
/// integration does not turn every read into a write.
pub async fn authenticate(
    db: &Db,
    presented: &str,
    now: i64,
) -> Result<Option<ApiToken>, sqlx::Error> {
    if !presented.starts_with(PREFIX) || presented.len() > 200 {
        return Ok(None);
    }
    let sql =
        format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
    let hash = sha256_hex(presented.as_bytes());
    let token: Option<ApiToken> = on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&hash)
            .fetch_optional(pool)
            .await
    })?;
    if let Some(t) = &token
        && t.last_used_at.is_none_or(|used| now - used >= 60)
    {
        on_db!(db, |pool| {
            sqlx::query("UPDATE api_tokens SET last_used_at = $3 WHERE agency_id = $1 AND id = $2")
                .bind(t.agency_id)
                .bind(t.id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(token)
}

pub async fn count_active(db: &Db, agency_id: i64) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_tokens WHERE agency_id = $1 AND revoked_at IS NULL",
        )
        .bind(agency_id)
        .fetch_one(pool)
        .await
    })
}
