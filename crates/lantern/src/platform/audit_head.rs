//! Anchoring the audit chain outside the database.
//!
//! The chain's head (`audit_heads`) lives in the same database as the rows, so whoever can
//! rewrite the database can cut the tail, rewrite the head, and `verify` still passes. A head
//! copied somewhere else closes that gap: a signed head names a row (agency, sequence number,
//! hash) and carries an Ed25519 signature by this deployment, so anyone holding a copy (a
//! ticket, a log server, a web archive of the agency's public page of daily heads) can later
//! show that the chain no longer contains that row, and nobody can forge a head the
//! deployment did not sign.
//!
//! The signing key is derived from the deployment key, so every process of a deployment signs
//! alike with nothing more to configure; the public key is printed with every head.

use chrono::{NaiveDate, TimeZone};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::on_db;
use crate::platform::agencies::Agency;
use crate::platform::audit::{self, GENESIS_HASH};
use crate::platform::db::Db;
use crate::platform::secrets::{Key, hex};

/// What the signature covers, line by line, so a head cannot be re-read as another.
const DOMAIN: &str = "lantern audit head v1";

/// A head of one agency's chain, signed by the deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// The agency's slug.
    pub agency: String,
    /// The sequence number of the row this head names (0: the chain was empty).
    pub seq: i64,
    /// That row's hash.
    pub hash: String,
    /// When that row was written (unix seconds).
    pub at: i64,
    /// The deployment's Ed25519 public key, hex.
    pub key: String,
    /// The signature of the fields above, hex.
    pub signature: String,
}

impl SignedHead {
    fn message(agency: &str, seq: i64, hash: &str, at: i64) -> String {
        format!("{DOMAIN}\n{agency}\n{seq}\n{hash}\n{at}")
    }

    /// One line of JSON: what `lantern audit head` prints and `verify --head` reads.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a head serialises")
    }

    /// Reads a head as printed; says what is wrong with one that is not.
    pub fn parse(text: &str) -> Result<SignedHead, String> {
        serde_json::from_str(text.trim()).map_err(|e| {
            format!(
                "not a signed audit head (one line of JSON as `lantern audit head` prints): {e}"
            )
        })
    }

    /// Checks the signature against the key the head carries.
    pub fn signature_is_valid(&self) -> bool {
        let (Ok(key), Ok(sig)) = (::hex::decode(&self.key), ::hex::decode(&self.signature)) else {
            return false;
        };
        let message = Self::message(&self.agency, self.seq, &self.hash, self.at);
        signature::UnparsedPublicKey::new(&signature::ED25519, key)
            .verify(message.as_bytes(), &sig)
            .is_ok()
    }
}

/// The deployment's head-signing key.
pub struct Signer(Ed25519KeyPair);

impl Signer {
    pub fn new(key: &Key) -> Signer {
        let seed = key.derive("audit head signing key");
        Signer(Ed25519KeyPair::from_seed_unchecked(&seed).expect("32 bytes are an Ed25519 seed"))
    }

    pub fn public_key(&self) -> String {
        hex(self.0.public_key().as_ref())
    }

    pub fn sign(&self, agency: &str, seq: i64, hash: &str, at: i64) -> SignedHead {
        let message = SignedHead::message(agency, seq, hash, at);
        SignedHead {
            agency: agency.to_string(),
            seq,
            hash: hash.to_string(),
            at,
            key: self.public_key(),
            signature: hex(self.0.sign(message.as_bytes()).as_ref()),
        }
    }
}

/// The newest row written before `before` (unix seconds), or the whole chain's newest row.
async fn row_before(
    db: &Db,
    agency_id: i64,
    before: i64,
) -> Result<Option<(i64, String, i64)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT seq, hash, at FROM audit_log WHERE agency_id = $1 AND at < $2 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(agency_id)
        .bind(before)
        .fetch_optional(pool)
        .await
    })
}

/// The signed head of the agency's chain now: the row `audit_heads` records.
pub async fn current(db: &Db, signer: &Signer, agency: &Agency) -> Result<SignedHead, sqlx::Error> {
    let head: Option<(i64, String)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE agency_id = $1")
            .bind(agency.id)
            .fetch_optional(pool)
            .await
    })?;
    let Some((seq, hash)) = head else {
        return Ok(signer.sign(&agency.slug, 0, GENESIS_HASH, 0));
    };
    let at: i64 = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT at FROM audit_log WHERE agency_id = $1 AND seq = $2")
            .bind(agency.id)
            .bind(seq)
            .fetch_optional(pool)
            .await
    })?
    .unwrap_or(0);
    Ok(signer.sign(&agency.slug, seq, &hash, at))
}

/// The head at the end of one day of the agency's calendar: what the chain's newest row was
/// at midnight that ended it.
#[derive(Clone, Debug, Serialize)]
pub struct DailyHead {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub head: SignedHead,
}

/// The heads at the end of each of the `days` days before `now`'s date, newest first. They are
/// read from the chain, so they are the same whenever they are asked for, as long as the chain
/// is intact: a copy taken one day and a page read later must agree.
pub async fn daily(
    db: &Db,
    signer: &Signer,
    agency: &Agency,
    now: i64,
    days: u32,
) -> Result<Vec<DailyHead>, sqlx::Error> {
    let tz = agency.tz();
    let Some(today) =
        chrono::DateTime::from_timestamp(now, 0).map(|t| t.with_timezone(&tz).date_naive())
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut date = today;
    for _ in 0..days {
        let Some(day) = date.pred_opt() else { break };
        let midnight = tz
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .earliest()
            .map_or(now, |t| t.timestamp());
        let head = match row_before(db, agency.id, midnight).await? {
            Some((seq, hash, at)) => signer.sign(&agency.slug, seq, &hash, at),
            None => break,
        };
        out.push(DailyHead { date: day, head });
        date = day;
    }
    Ok(out)
}

/// Checks an agency's chain against a head kept elsewhere: the head must be signed by this
/// deployment, and the intact chain must still hold its row, unchanged.
pub async fn verify_against(
    db: &Db,
    signer: &Signer,
    agency: &Agency,
    head: &SignedHead,
) -> Result<Result<audit::Verification, String>, sqlx::Error> {
    if head.agency != agency.slug {
        return Ok(Err(format!(
            "the head is of agency {:?}, not {:?}",
            head.agency, agency.slug
        )));
    }
    if !head.signature_is_valid() {
        return Ok(Err(
            "the head's signature does not match its contents: it was altered or is not a head Lantern signed".into(),
        ));
    }
    if head.key != signer.public_key() {
        return Ok(Err(
            "the head was signed by another key than this deployment's: another deployment's head, or the deployment key was replaced".into(),
        ));
    }
    let v = audit::verify(db, agency.id).await?;
    if let Some(b) = &v.first_break {
        return Ok(Err(format!(
            "the chain is broken at row {}: {}",
            b.seq, b.reason
        )));
    }
    if head.seq == 0 {
        return Ok(Ok(v));
    }
    if v.head_seq < head.seq {
        return Ok(Err(format!(
            "the chain ends at row {} but the kept head names row {}: rows after {} were deleted and the head rewritten",
            v.head_seq, head.seq, v.head_seq
        )));
    }
    let stored: Option<String> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE agency_id = $1 AND seq = $2")
            .bind(agency.id)
            .bind(head.seq)
            .fetch_optional(pool)
            .await
    })?;
    match stored {
        Some(h) if h == head.hash => Ok(Ok(v)),
        Some(_) => Ok(Err(format!(
            "row {} is not the row the kept head names: the chain up to it was rewritten and re-hashed",
            head.seq
        ))),
        None => Ok(Err(format!("row {} is missing", head.seq))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_verifies_and_any_change_breaks_it() {
        let signer = Signer::new(&Key::fixed([7; 32]));
        let head = signer.sign("riverton", 41, &"ab".repeat(32), 1_700_000_000);
        assert!(head.signature_is_valid());
        let back = SignedHead::parse(&head.to_line()).unwrap();
        assert_eq!(back, head);
        assert!(back.signature_is_valid());

        for altered in [
            SignedHead {
                seq: 40,
                ..head.clone()
            },
            SignedHead {
                agency: "other".into(),
                ..head.clone()
            },
            SignedHead {
                hash: "cd".repeat(32),
                ..head.clone()
            },
            SignedHead {
                at: 1_700_000_001,
                ..head.clone()
            },
            SignedHead {
                key: Signer::new(&Key::fixed([8; 32])).public_key(),
                ..head.clone()
            },
            SignedHead {
                signature: "00".repeat(64),
                ..head.clone()
            },
            SignedHead {
                signature: "zz".into(),
                ..head.clone()
            },
        ] {
            assert!(!altered.signature_is_valid(), "{altered:?}");
        }
    }

    #[test]
    fn one_deployment_key_signs_alike_and_another_does_not() {
        let a = Signer::new(&Key::fixed([7; 32]));
        let b = Signer::new(&Key::fixed([7; 32]));
        let c = Signer::new(&Key::fixed([9; 32]));
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        assert_eq!(a.public_key().len(), 64);
    }

    #[test]
    fn a_bad_head_is_refused_with_a_reason() {
        let e = SignedHead::parse("not json").unwrap_err();
        assert!(e.contains("lantern audit head"), "{e}");
        let e = SignedHead::parse(r#"{"agency":"x"}"#).unwrap_err();
        assert!(e.contains("missing field"), "{e}");
    }
}
