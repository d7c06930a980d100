//! The tamper-evident audit chain.
//!
//! Each agency has one append-only chain. Row `seq` stores `prev_hash` (the hash of row
//! `seq - 1`, or 64 zeros for the first row) and `hash = SHA-256(prev_hash ‖ content)`, where
//! content is the JSON array of the row's own fields. `audit_heads` holds the last (seq, hash),
//! updated in the same transaction as the append, so deleting the newest rows shows too.
//!
//! [`verify`] walks the chain and names the first row where it breaks: an edited row no longer
//! matches its hash, a deleted row leaves a gap, an inserted or replaced row breaks the link to
//! its successor, and a cut or extended tail disagrees with the head. Someone who can rewrite
//! the database can also recompute every hash, so `lantern audit verify` prints the head hash:
//! recording it elsewhere (a ticket, a log server) anchors the chain against that too.

use serde::Serialize;

use crate::platform::db::{Db, Tx};
use crate::platform::secrets::sha256_hex;
use crate::{on_db, on_tx};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User {
        id: i64,
        username: String,
    },
    Token {
        id: i64,
        name: String,
    },
    /// The command line or a background job, e.g. `System("cli")`.
    System(&'static str),
    Anonymous,
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Actor::User { username, .. } => username.clone(),
            Actor::Token { name, .. } => format!("token:{name}"),
            Actor::System(what) => format!("system:{what}"),
            Actor::Anonymous => "anonymous".to_string(),
        }
    }
}

/// One thing to record. `action` is a dotted name (`signin.failure`, `user.role_changed`);
/// `target` names what it was done to (`user:12`, `audit_log`).
#[derive(Clone, Debug)]
pub struct Event {
    pub actor: Actor,
    pub action: &'static str,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

impl Event {
    pub fn new(actor: &Actor, action: &'static str, target: impl Into<String>) -> Event {
        Event {
            actor: actor.clone(),
            action,
            target: target.into(),
            detail: serde_json::Value::Null,
            ip: None,
        }
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = detail;
        self
    }

    pub fn ip(mut self, ip: Option<&str>) -> Event {
        self.ip = ip.map(str::to_string);
        self
    }
}

/// A stored row, as the staff UI and `verify` read it.
#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Entry {
    pub agency_id: i64,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The hash this row must carry given its content and its `prev_hash`.
    pub fn expected_hash(&self) -> String {
        chain_hash(
            &self.prev_hash,
            &content(
                self.agency_id,
                self.seq,
                self.at,
                self.actor_id,
                &self.actor,
                &self.action,
                &self.target,
                &self.detail,
                self.ip.as_deref(),
            ),
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn content(
    agency_id: i64,
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    ip: Option<&str>,
) -> String {
    // A JSON array is an unambiguous encoding: no field can run into the next.
    serde_json::json!([
        agency_id, seq, at, actor_id, actor, action, target, detail, ip
    ])
    .to_string()
}

fn chain_hash(prev_hash: &str, content: &str) -> String {
    let mut input = String::with_capacity(prev_hash.len() + 1 + content.len());
    input.push_str(prev_hash);
    input.push('\n');
    input.push_str(content);
    sha256_hex(input.as_bytes())
}

/// Starts an agency's chain. Called in the transaction that creates the agency.
pub async fn create_head(tx: &mut Tx, agency_id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("INSERT INTO audit_heads (agency_id, seq, hash) VALUES ($1, 0, $2)")
            .bind(agency_id)
            .bind(GENESIS_HASH)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Appends `event` to the agency's chain inside `tx`, so the record and the change it records
/// commit together. Returns the new row's sequence number.
pub async fn append(
    tx: &mut Tx,
    agency_id: i64,
    at: i64,
    event: &Event,
) -> Result<i64, sqlx::Error> {
    // Bumping the head first takes its row lock on PostgreSQL, which serialises appends per
    // agency; RETURNING gives the new seq and the previous row's hash (not yet replaced).
    let (seq, prev_hash): (i64, String) = on_tx!(tx, |c| {
        sqlx::query_as(
            "UPDATE audit_heads SET seq = seq + 1 WHERE agency_id = $1 RETURNING seq, hash",
        )
        .bind(agency_id)
        .fetch_one(&mut **c)
        .await
    })?;
    let detail = if event.detail.is_null() {
        String::new()
    } else {
        event.detail.to_string()
    };
    let actor = event.actor.label();
    let actor_id = event.actor.user_id();
    let hash = chain_hash(
        &prev_hash,
        &content(
            agency_id,
            seq,
            at,
            actor_id,
            &actor,
            event.action,
            &event.target,
            &detail,
            event.ip.as_deref(),
        ),
    );
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO audit_log (agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(agency_id)
        .bind(seq)
        .bind(at)
        .bind(actor_id)
        .bind(&actor)
        .bind(event.action)
        .bind(&event.target)
        .bind(&detail)
        .bind(event.ip.as_deref())
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    on_tx!(tx, |c| {
        sqlx::query("UPDATE audit_heads SET hash = $2 WHERE agency_id = $1")
            .bind(agency_id)
            .bind(&hash)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(seq)
}

/// Appends one event in its own transaction (for events that change nothing else, such as a
/// read of a restricted record or a failed sign-in).
pub async fn record(db: &Db, agency_id: i64, at: i64, event: &Event) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, agency_id, at, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Where and why a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The sequence number of the first bad row.
    pub seq: i64,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Verification {
    pub rows: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_break: Option<Break>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks an agency's whole chain, a page at a time, and reports the first break.
pub async fn verify(db: &Db, agency_id: i64) -> Result<Verification, sqlx::Error> {
    const PAGE: i64 = 5_000;
    let (head_seq, head_hash): (i64, String) = on_db!(db, |pool| {
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE agency_id = $1")
            .bind(agency_id)
            .fetch_optional(pool)
            .await
    })?
    .unwrap_or((0, GENESIS_HASH.to_string()));

    let mut rows = 0i64;
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut after = 0i64;
    let broken = |seq: i64, reason: String, rows: i64| Verification {
        rows,
        head_seq,
        head_hash: head_hash.clone(),
        first_break: Some(Break { seq, reason }),
    };
    loop {
        let page: Vec<Entry> = on_db!(db, |pool| {
            sqlx::query_as(
                "SELECT agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash \
                 FROM audit_log WHERE agency_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(agency_id)
            .bind(after)
            .bind(PAGE)
            .fetch_all(pool)
            .await
        })?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            rows += 1;
            if row.seq > expected_seq {
                let missing = if row.seq == expected_seq + 1 {
                    format!("row {expected_seq} is missing")
                } else {
                    format!("rows {expected_seq} to {} are missing", row.seq - 1)
                };
                return Ok(broken(
                    expected_seq,
                    format!("{missing}: deleted from the chain"),
                    rows,
                ));
            }
            if row.seq < expected_seq {
                return Ok(broken(
                    row.seq,
                    format!("row {} is out of sequence: inserted", row.seq),
                    rows,
                ));
            }
            if row.prev_hash != prev_hash {
                let reason = if row.seq == 1 {
                    "row 1 does not start the chain: inserted or replaced".to_string()
                } else {
                    format!(
                        "row {} does not link to row {}: row {} was inserted, replaced or edited and re-hashed",
                        row.seq,
                        row.seq - 1,
                        row.seq - 1
                    )
                };
                return Ok(broken(row.seq, reason, rows));
            }
            if row.expected_hash() != row.hash {
                return Ok(broken(
                    row.seq,
                    format!(
                        "row {} does not match its hash: edited after it was written",
                        row.seq
                    ),
                    rows,
                ));
            }
            prev_hash = row.hash;
            expected_seq += 1;
        }
    }
    let last_seq = expected_seq - 1;
    if last_seq < head_seq {
        let reason = format!(
            "the chain head records {head_seq} rows but the log ends at row {last_seq}: rows after {last_seq} were deleted"
        );
        return Ok(broken(last_seq + 1, reason, rows));
    }
    if last_seq > head_seq || prev_hash != head_hash {
        let reason = format!(
            "row {last_seq} is not the recorded chain head (row {head_seq}): rows were inserted or the last row was replaced"
        );
        return Ok(broken(last_seq.min(head_seq + 1), reason, rows));
    }
    Ok(Verification {
        rows,
        head_seq,
        head_hash,
        first_break: None,
    })
}

/// Filters for browsing the log; empty fields match everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Matches actions that start with this (`signin` matches `signin.failure`).
    pub action: String,
    pub actor: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only rows older than this sequence number (for paging backwards).
    pub before: Option<i64>,
}

/// The newest rows matching `filter`, newest first.
pub async fn list(
    db: &Db,
    agency_id: i64,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT agency_id, seq, at, actor_id, actor, action, target, detail, ip, prev_hash, hash \
             FROM audit_log \
             WHERE agency_id = $1 \
               AND ($2 = '' OR substr(action, 1, length($2)) = $2) \
               AND ($3 = '' OR actor = $3) \
               AND at >= $4 AND at <= $5 AND seq < $6 \
             ORDER BY seq DESC LIMIT $7",
        )
        .bind(agency_id)
        .bind(&filter.action)
        .bind(&filter.actor)
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.to.unwrap_or(i64::MAX))
        .bind(filter.before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}

/// Failed sign-ins (wrong password, wrong code, attempts while locked) against one account
/// since `since`, and the time of the last lock among them: what the owner is told at their
/// next sign-in, since the sign-in page itself says nothing that would confirm the account.
pub async fn failed_sign_ins_since(
    db: &Db,
    agency_id: i64,
    user_id: i64,
    since: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    let target = format!("user:{user_id}");
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT \
               COALESCE(SUM(CASE WHEN action IN ('signin.failure', 'mfa.failure', 'signin.locked') THEN 1 ELSE 0 END), 0), \
               MAX(CASE WHEN action = 'account.locked' THEN at END) \
             FROM audit_log WHERE agency_id = $1 AND target = $2 AND at >= $3 \
               AND action IN ('signin.failure', 'mfa.failure', 'signin.locked', 'account.locked')",
        )
        .bind(agency_id)
        .bind(&target)
        .bind(since)
        .fetch_one(pool)
        .await
    })
}

/// Rows written since `since` (unix seconds), for the staff home.
pub async fn count_since(db: &Db, agency_id: i64, since: i64) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE agency_id = $1 AND at >= $2")
            .bind(agency_id)
            .bind(since)
            .fetch_one(pool)
            .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_field_and_the_previous_hash() {
        let row = Entry {
            agency_id: 1,
            seq: 7,
            at: 1_700_000_000,
            actor_id: Some(3),
            actor: "admin".into(),
            action: "user.created".into(),
            target: "user:9".into(),
            detail: r#"{"role":"analyst"}"#.into(),
            ip: Some("192.0.2.1".into()),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        let base = row.expected_hash();
        let variants: Vec<Entry> = vec![
            Entry {
                agency_id: 2,
                ..row.clone()
            },
            Entry {
                seq: 8,
                ..row.clone()
            },
            Entry {
                at: 1_700_000_001,
                ..row.clone()
            },
            Entry {
                actor_id: None,
                ..row.clone()
            },
            Entry {
                actor: "admin2".into(),
                ..row.clone()
            },
            Entry {
                action: "user.deleted".into(),
                ..row.clone()
            },
            Entry {
                target: "user:10".into(),
                ..row.clone()
            },
            Entry {
                detail: r#"{"role":"admin"}"#.into(),
                ..row.clone()
            },
            Entry {
                ip: None,
                ..row.clone()
            },
            Entry {
                prev_hash: "1".repeat(64),
                ..row.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.expected_hash(), base, "{v:?}");
        }
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let a = content(1, 1, 1, None, "ab", "c", "t", "", None);
        let b = content(1, 1, 1, None, "a", "bc", "t", "", None);
        assert_ne!(a, b);
    }

    #[test]
    fn actor_labels() {
        assert_eq!(
            Actor::User {
                id: 1,
                username: "ana".into()
            }
            .label(),
            "ana"
        );
        assert_eq!(
            Actor::Token {
                id: 1,
                name: "CAD".into()
            }
            .label(),
            "token:CAD"
        );
        assert_eq!(Actor::System("cli").label(), "system:cli");
        assert_eq!(Actor::Anonymous.label(), "anonymous");
    }
}
