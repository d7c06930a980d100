//! Transparency: stop, search and arrest records and the disparity analyses that make them
//! meaningful.
//!
//! - [`import`]: CSV files in the Stanford Open Policing Project's schema, or any schema through
//!   a [`mapping`] file; all-or-nothing (or skipping invalid rows), idempotent, audited, and
//!   keeping the analysis store (`stop_month_cells`, `stop_light`, `stop_dusk`, counted by
//!   [`tally`]) current in the same transaction.
//! - [`chunks`]: how stops are stored, in chunks of an import's stops, column by column.
//! - [`population`]: residential population benchmarks (plain CSV or ACS table B03002).
//! - [`analysis`]: the benchmark test, search, hit and outcome rates with intervals and
//!   Benjamini–Hochberg-adjusted tests, and the veil-of-darkness test (SOPP's three forms).
//! - [`routes`] and [`api`]: staff pages with charts beside their tables, CSV downloads, and
//!   the JSON API with an asynchronous import endpoint.
//! - [`measures`]: what the public portal shows of stops, through the publishing interface.

pub mod analysis;
pub mod api;
pub mod chunks;
pub mod import;
pub mod mapping;
pub mod measures;
pub mod model;
pub mod population;
pub mod records;
pub mod routes;
pub mod store;
pub mod tally;

use std::io::Read;

use crate::platform::agencies::Agency;
use crate::platform::audit::Actor;
use crate::platform::db::Db;
use crate::transparency::import::{ImportError, ImportRequest};
use crate::transparency::mapping::Mapping;
use crate::transparency::model::ImportReport;

/// Creates an import record and runs the import in this task (the CLI, the demo, tests).
#[allow(clippy::too_many_arguments)]
pub async fn import_now(
    db: &Db,
    agency: &Agency,
    file_name: &str,
    reader: Box<dyn Read + Send>,
    size: Option<u64>,
    mapping: Mapping,
    skip_invalid: bool,
    actor: Actor,
    now: i64,
    progress: Option<Box<dyn Fn(u64) + Send>>,
) -> Result<(i64, ImportReport), ImportError> {
    let id = store::create_import(
        db,
        agency.id,
        file_name,
        &mapping.name,
        skip_invalid,
        actor.user_id(),
        "queued",
        now,
    )
    .await?;
    let report = import::run(
        ImportRequest {
            db,
            agency,
            import_id: id,
            mapping,
            skip_invalid,
            actor,
            ip: None,
            now,
            progress,
            size,
        },
        reader,
    )
    .await?;
    Ok((id, report))
}
