//! Integration tests: the real router on a real database. Each `db_test!` runs on SQLite and,
//! when `TEST_DATABASE_URL` is set, again on a fresh PostgreSQL database.

mod helpers;

mod api;
mod audit_chain;
mod authorization;
mod cli;
mod delivery;
mod demo;
mod durability;
mod pages;
mod portal;
mod portal_pages;
mod portal_records;
mod portal_surveys;
mod privacy;
mod readable;
mod sign_in;
mod surveys;
mod tenancy;
mod transparency;
mod transparency_demo;
mod transparency_rates;
