//! Staff accounts: roles, the password rules, password hashing and the account store.
//! Sign-in itself (lockout, MFA stages, sessions) is in `routes`, on top of these pieces.

use std::fmt;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, Tx, is_unique_violation};
use crate::platform::error::FieldError;
use crate::{on_db, on_tx};

/// What a person does in the agency; the policy maps each role to permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Analyst,
    Supervisor,
    Investigator,
    Oversight,
    Staff,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Analyst,
        Role::Supervisor,
        Role::Investigator,
        Role::Oversight,
        Role::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Supervisor => "supervisor",
            Role::Investigator => "investigator",
            Role::Oversight => "oversight",
            Role::Staff => "staff",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Analyst => "Analyst",
            Role::Supervisor => "Supervisor",
            Role::Investigator => "Internal affairs investigator",
            Role::Oversight => "Oversight board member",
            Role::Staff => "Officer / staff member",
        }
    }

    /// Roles that see the most sensitive records sign in with a second factor, unless the
    /// agency turns the requirement off.
    pub fn requires_mfa(self) -> bool {
        matches!(self, Role::Admin | Role::Investigator | Role::Oversight)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}: use one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// A stored account. The password hash and TOTP secret never leave the server.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub agency_id: i64,
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    role: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub mfa_enabled: bool,
    pub failed_attempts: i64,
    pub locked_until: Option<i64>,
    pub active: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub last_sign_in_at: Option<i64>,
}

impl User {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only the six role names.
        self.role.parse().unwrap_or(Role::Staff)
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            username: self.username.clone(),
        }
    }
}

const USER_COLUMNS: &str = "agency_id, id, username, display_name, email, role, password_hash, totp_secret, \
     totp_last_step, mfa_enabled, failed_attempts, locked_until, active, created_at, password_changed_at, \
     last_sign_in_at";

// ---------------------------------------------------------------------------------------------
// Passwords

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The password rules (NIST SP 800-63B): at least 8 characters, not a commonly used password,
/// not easy to guess from the person's own names. No composition rules. `context` holds the
/// username, display name and agency so a password built from them is refused.
pub fn check_password(password: &str, context: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    let entropy = zxcvbn::zxcvbn(password, context);
    let whole_common_password = entropy.sequence().iter().any(|m| {
        m.i == 0
            && m.j + 1 == chars
            && matches!(
                &m.pattern,
                zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
                    // zxcvbn does not export the dictionary enum; its Debug name is stable.
                    if format!("{:?}", d.dictionary_name) == "Passwords"
            )
    });
    if whole_common_password {
        return Err("is on the list of commonly used passwords: choose another".to_string());
    }
    if (entropy.score() as u8) < 2 {
        return Err(
            "is too easy to guess (a common word, name or pattern): try a few unrelated words"
                .to_string(),
        );
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // argon2id, 19 MiB, 2 passes, 1 lane: the OWASP recommendation, and the crate default.
    Argon2::default()
}

/// Hashes a password with argon2id on a blocking thread (it takes tens of milliseconds by
/// design, which must not stall the async workers).
pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Verifies a password against a stored hash, on a blocking thread. A malformed hash fails.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_string();
    let hash = hash.to_string();
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a password nobody knows, verified when a username does not exist so that
/// a wrong username takes as long as a wrong password.
pub async fn dummy_hash() -> &'static str {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async {
        hash_password(&crate::platform::secrets::random_token(24))
            .await
            .expect("hashing a random password works")
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Validation of account fields

/// Usernames are lowercase so `Ana` and `ana` are one person.
pub fn normalize_username(raw: &str) -> Result<String, String> {
    let u = raw.trim().to_lowercase();
    if u.len() < 2 || u.len() > 64 {
        return Err("must be 2 to 64 characters".to_string());
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err("may contain only letters a–z, digits, '.', '_' and '-'".to_string());
    }
    Ok(u)
}

/// A new account, as an admin or the command line describes it.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub password: String,
}

impl NewUser {
    /// Checks every field and returns all problems at once.
    pub fn validate(&mut self, agency_name: &str) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match normalize_username(&self.username) {
            Ok(u) => self.username = u,
            Err(e) => errors.push(FieldError::new("username", format!("Username {e}"))),
        }
        self.display_name = self.display_name.trim().to_string();
        if self.display_name.is_empty() {
            self.display_name = self.username.clone();
        }
        if self.display_name.chars().count() > 120 {
            errors.push(FieldError::new(
                "display_name",
                "Name must be at most 120 characters",
            ));
        }
        self.email = self.email.trim().to_string();
        if !self.email.is_empty() && !looks_like_email(&self.email) {
            errors.push(FieldError::new(
                "email",
                "E-mail must look like name@example.org",
            ));
        }
        if let Err(e) = check_password(
            &self.password,
            &[&self.username, &self.display_name, agency_name],
        ) {
            errors.push(FieldError::new("password", format!("Password {e}")));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

pub fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Store

pub async fn find_by_username(
    db: &Db,
    agency_id: i64,
    username: &str,
) -> Result<Option<User>, sqlx::Error> {
    let username = username.trim().to_lowercase();
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE agency_id = $1 AND username = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(&username)
            .fetch_optional(pool)
            .await
    })
}

pub async fn get(db: &Db, agency_id: i64, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE agency_id = $1 AND id = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

pub async fn list(db: &Db, agency_id: i64) -> Result<Vec<User>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE agency_id = $1 ORDER BY username");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .fetch_all(pool)
            .await
    })
}

/// Active accounts per role, for the staff home.
pub async fn count_by_role(db: &Db, agency_id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT role, COUNT(*) FROM users WHERE agency_id = $1 AND active = TRUE GROUP BY role ORDER BY role",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("invalid account")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Creates an account (validated, password hashed) and records it in the audit chain, in one
/// transaction.
pub async fn create(
    db: &Db,
    agency_id: i64,
    agency_name: &str,
    mut new: NewUser,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<User, CreateUserError> {
    new.validate(agency_name)
        .map_err(CreateUserError::Invalid)?;
    let hash = hash_password(&new.password).await?;
    let mut tx = db.begin().await?;
    let inserted: Result<i64, sqlx::Error> = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO users (agency_id, username, display_name, email, role, password_hash, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(agency_id)
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(&hash)
        .bind(now)
        .fetch_one(&mut **c)
        .await
    });
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(CreateUserError::Invalid(vec![FieldError::new(
                "username",
                format!("Username {:?} is already taken", new.username),
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    audit::append(
        &mut tx,
        agency_id,
        now,
        &Event::new(actor, "user.created", format!("user:{id}"))
            .detail(serde_json::json!({"username": new.username, "role": new.role.as_str()}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(get(db, agency_id, id)
        .await?
        .expect("the account just created exists"))
}

/// Updates columns of one account inside a transaction the caller commits with its audit row.
pub async fn set_role(tx: &mut Tx, agency_id: i64, id: i64, role: Role) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET role = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(role.as_str())
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn set_active(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    active: bool,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET active = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(active)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn unlock(tx: &mut Tx, agency_id: i64, id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET locked_until = NULL, failed_attempts = 0 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Removes the second factor; the person enrols again at next sign-in if their role needs it.
pub async fn reset_mfa(tx: &mut Tx, agency_id: i64, id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET mfa_enabled = FALSE, totp_secret = NULL, totp_last_step = NULL WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn set_password(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET password_hash = $3, password_changed_at = $4 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Stores a secret awaiting confirmation; MFA is on only once a code from it is accepted.
pub async fn set_pending_totp(
    db: &Db,
    agency_id: i64,
    id: i64,
    secret: &str,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE users SET totp_secret = $3, totp_last_step = NULL WHERE agency_id = $1 AND id = $2 AND mfa_enabled = FALSE",
        )
        .bind(agency_id)
        .bind(id)
        .bind(secret)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn enable_mfa(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    step: i64,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET mfa_enabled = TRUE, totp_last_step = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(step)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records an accepted TOTP step so the same code cannot be used twice.
pub async fn use_totp_step(
    tx: &mut Tx,
    agency_id: i64,
    id: i64,
    step: i64,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query("UPDATE users SET totp_last_step = $3 WHERE agency_id = $1 AND id = $2")
            .bind(agency_id)
            .bind(id)
            .bind(step)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// After this many failed sign-ins in a row the account locks…
pub const MAX_FAILED_ATTEMPTS: i64 = 5;
/// …for this long.
pub const LOCKOUT_SECONDS: i64 = 10 * 60;

/// Counts a failed password or code. Returns the lock expiry when this failure locks the
/// account (the counter starts again after the lock).
pub async fn record_failure(
    tx: &mut Tx,
    user: &User,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let attempts = user.failed_attempts + 1;
    let (attempts, locked_until) = if attempts >= MAX_FAILED_ATTEMPTS {
        (0, Some(now + LOCKOUT_SECONDS))
    } else {
        (attempts, None)
    };
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET failed_attempts = $3, locked_until = COALESCE($4, locked_until) WHERE agency_id = $1 AND id = $2",
        )
        .bind(user.agency_id)
        .bind(user.id)
        .bind(attempts)
        .bind(locked_until)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(locked_until)
}

/// A complete sign-in clears the failure count.
pub async fn record_sign_in(tx: &mut Tx, user: &User, now: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = $3 WHERE agency_id = $1 AND id = $2",
        )
        .bind(user.agency_id)
        .bind(user.id)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert_eq!(" Admin ".parse::<Role>().unwrap(), Role::Admin);
        let err = "chief".parse::<Role>().unwrap_err();
        assert!(err.contains("chief") && err.contains("analyst"), "{err}");
    }

    #[test]
    fn mfa_roles() {
        let required: Vec<Role> = Role::ALL.into_iter().filter(|r| r.requires_mfa()).collect();
        assert_eq!(required, [Role::Admin, Role::Investigator, Role::Oversight]);
    }

    #[test]
    fn password_rules() {
        assert!(
            check_password("short1!", &[])
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            check_password("password", &[])
                .unwrap_err()
                .contains("commonly used")
        );
        assert!(check_password("Password1", &[]).is_err());
        assert!(check_password("qwertyuiop", &[]).is_err());
        assert!(check_password("12345678", &[]).is_err());
        assert!(
            check_password("anagarcia", &["anagarcia"]).is_err(),
            "own username"
        );
        assert!(
            check_password(&"x".repeat(257), &[])
                .unwrap_err()
                .contains("at most")
        );
        assert!(check_password("copper kettle on the ridge", &[]).is_ok());
        assert!(check_password("Tq7#vL2p!mZ", &[]).is_ok());
    }

    #[test]
    fn usernames() {
        assert_eq!(normalize_username(" Ana.Garcia ").unwrap(), "ana.garcia");
        assert!(normalize_username("a").is_err());
        assert!(normalize_username("ana garcia").is_err());
        assert!(normalize_username("ana@x").is_err());
    }

    #[test]
    fn emails() {
        assert!(looks_like_email("ana@example.org"));
        assert!(!looks_like_email("ana@example"));
        assert!(!looks_like_email("@example.org"));
        assert!(!looks_like_email("ana @example.org"));
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let h = hash_password("copper kettle on the ridge").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("copper kettle on the ridge", &h).await);
        assert!(!verify_password("copper kettle on the ridgE", &h).await);
        assert!(!verify_password("x", "not a hash").await);
    }
}
