//! Surveys: community surveys (public link, QR code, flyer), post-contact surveys (single-use
//! invitations from CAD/RMS contact events), officer feedback cards, and anonymous employee
//! surveys; answering them; and their results (intervals, trends, breakdowns, weighting to the
//! census, free-text themes) and exports.

use std::net::IpAddr;

use axum::Router;
use axum::routing::get;
use governor::DefaultKeyedRateLimiter;

use crate::platform::config::Config;
use crate::platform::db::Db;
use crate::state::AppState;

pub mod aggregate;
pub mod api;
pub mod builder;
pub mod cache;
pub mod contacts;
pub mod delivery;
pub mod employee;
pub mod export;
pub mod invitations;
pub mod links;
pub mod measures;
pub mod model;
pub mod public;
pub mod respond;
pub mod results;
pub mod staff;
pub mod store;
pub mod templates;
pub mod themes;
pub mod writer;
pub mod xlsform;

/// What the surveys slice keeps running: the writer task, cached results, the
/// ballot-stuffing guards, and the ways post-contact invitations go out.
pub struct Runtime {
    pub writer: writer::Writer,
    pub results: cache::ResultsCache,
    pub versions: store::Versions,
    pub bursts: respond::Bursts,
    pub submit_limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub delivery: delivery::Runtime,
}

impl AppState {
    /// The surveys slice's running parts.
    pub fn surveys(&self) -> &Runtime {
        self.part::<Runtime>()
    }
}

impl Runtime {
    pub fn start(db: &Db, config: &Config) -> Runtime {
        Runtime {
            writer: writer::Writer::start(db.clone()),
            results: cache::ResultsCache::default(),
            versions: store::Versions::default(),
            bursts: respond::Bursts::default(),
            submit_limiter: respond::submit_limiter(config.submit_per_minute, config.submit_burst),
            delivery: delivery::Runtime::new(config),
        }
    }

    /// Periodic clean-up of the in-memory guards.
    pub fn housekeeping(&self, now: i64) {
        self.bursts.forget_old(now);
        self.submit_limiter.retain_recent();
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(public::router())
        .merge(staff::router())
        .merge(invitations::router())
        .route("/{agency}/account/surveys", get(employee::mine))
        .route(
            "/{agency}/account/surveys/{id}",
            get(employee::form).post(employee::submit),
        )
        .route("/api/v1/surveys", get(api::list))
        .route("/api/v1/surveys/{id}/results", get(api::results))
        .route("/api/v1/surveys/{id}/responses", get(api::responses))
}
