//! What every capability stands on: configuration, the database, agencies, accounts,
//! sessions, multi-factor authentication, the authorization policy, the audit chain, API
//! tokens, CSRF protection, the formula-safe CSV writer, backups and the agency's reference data (districts, population,
//! units, officers).

pub mod accounts;
pub mod agencies;
pub mod api_tokens;
pub mod audit;
pub mod audit_head;
pub mod backup;
pub mod clock;
pub mod config;
pub mod csrf;
pub mod csv_out;
pub mod db;
pub mod error;
pub mod mail;
pub mod mfa;
pub mod policy;
pub mod roster;
pub mod routes;
pub mod secrets;
pub mod sessions;
