//! Random tokens, hashing of secrets that we look up (API tokens), and the deployment key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::on_db;
use crate::platform::db::Db;

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    buf
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The deployment's secret key: random, made once, kept in the database so every process and
/// restart shares it. It signs CSRF tokens.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    pub async fn load_or_create(db: &Db) -> Result<Key, sqlx::Error> {
        let fresh = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        // Insert-if-absent then read: two processes starting at once agree on one key.
        on_db!(db, |pool| {
            sqlx::query("INSERT INTO instance (key, value) VALUES ('secret_key', $1) ON CONFLICT (key) DO NOTHING")
                .bind(&fresh)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        let stored: String = on_db!(db, |pool| {
            sqlx::query_scalar("SELECT value FROM instance WHERE key = 'secret_key'")
                .fetch_one(pool)
                .await
        })?;
        let bytes = URL_SAFE_NO_PAD
            .decode(stored.as_bytes())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                sqlx::Error::Protocol("instance.secret_key is not 32 base64url bytes".into())
            })?;
        Ok(Key(bytes))
    }

    #[cfg(test)]
    pub fn fixed(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// A 32-byte key for one purpose, derived from this one (HMAC-SHA256 of the purpose), so
    /// one deployment secret yields independent keys.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length works for HMAC");
        mac.update(b"derive\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `message` under this key, base64url.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> String {
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length works for HMAC");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Compares two secrets in constant time.
pub fn equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn signatures_depend_on_key_purpose_and_message() {
        let k1 = Key::fixed([1; 32]);
        let k2 = Key::fixed([2; 32]);
        assert_eq!(k1.sign("csrf", b"x"), k1.sign("csrf", b"x"));
        assert_ne!(k1.sign("csrf", b"x"), k2.sign("csrf", b"x"));
        assert_ne!(k1.sign("csrf", b"x"), k1.sign("other", b"x"));
        assert_ne!(k1.sign("csrf", b"x"), k1.sign("csrf", b"y"));
    }

    #[test]
    fn equal_is_exact() {
        assert!(equal("abc", "abc"));
        assert!(!equal("abc", "abd"));
        assert!(!equal("abc", "abcd"));
    }
}
