//! Lantern: a community-trust platform for police agencies.
//!
//! The library holds everything; `main.rs` only parses the command line. Capabilities are
//! vertical slices (`surveys`, `transparency`, `accountability`, `plan`), each with its model,
//! SQL, logic and routes together. `platform` holds what every slice needs (database, accounts,
//! sessions, authorization, audit); `state` is the application state and `web` the shared page
//! helpers (layout, translations, charts), both below the slices; `app` assembles the router
//! above them; `demo` builds the synthetic agency.

pub mod app;
pub mod cli;
pub mod demo;
pub mod platform;
pub mod portal;
pub mod publish;
pub mod state;
pub mod surveys;
pub mod transparency;
pub mod web;

pub use platform::clock::Clock;
pub use platform::config::Config;
pub use platform::db::Db;
pub use state::AppState;
