//! The demo agency: a deterministic, realistic mid-size agency built from a seed, so anyone
//! can see Lantern working in seconds and tests can check analyses against known effects.
//!
//! Each capability adds its own part here (surveys, stops, complaints, the plan); a part takes
//! the shared random generator in a fixed order, so one seed always yields the same agency.

use std::path::{Path, PathBuf};

use crate::platform::agencies::{self, Agency};
use crate::platform::db::Db;

pub mod agency;
pub mod contacts;
mod names;
pub mod stops;
pub mod surveys;

pub use agency::{ACCOUNTS, SLUG};

/// The instance key that marks a database as made by `lantern demo`, so that a rerun may
/// replace it and nothing else.
const DEMO_MARKER: &str = "demo_seed";

/// Seeds the demo agency into `db` unless it is already there. Returns the agency and whether
/// it was created now.
pub async fn ensure(db: &Db, seed: u64, now: i64) -> anyhow::Result<(Agency, bool)> {
    if let Some(existing) = agencies::by_slug(db, SLUG).await? {
        return Ok((existing, false));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let agency = agency::seed(db, &mut rng, now).await?;
    stops::seed(db, &mut rng, &agency, now).await?;
    let seeded = surveys::seed(db, &mut rng, &agency, now).await?;
    contacts::seed(db, &mut rng, &agency, &seeded.post_contact, now).await?;
    publish_portal(db, &agency, &seeded.community, now).await?;
    crate::on_db!(db, |pool| {
        sqlx::query("INSERT INTO instance (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(DEMO_MARKER)
            .bind(seed.to_string())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok((agency, true))
}

/// The demo publishes every stop measure, the de-identified stop records and every
/// community-survey score of every year, as an analyst would after checking the previews, so
/// the portal has numbers the moment the demo starts.
async fn publish_portal(
    db: &Db,
    agency: &Agency,
    community: &crate::surveys::store::Survey,
    now: i64,
) -> anyhow::Result<()> {
    use crate::publish::Topic;
    let lang = crate::web::i18n::Lang::En;
    let stops = crate::transparency::measures::StopsTopic;
    let measures: Vec<String> = stops
        .measures(lang)
        .into_iter()
        .chain(crate::surveys::measures::SurveysTopic.measures(lang))
        .map(|m| m.id.to_string())
        .chain(stops.records(lang).map(|r| r.id.to_string()))
        .collect();
    let (mut years, _) = crate::transparency::store::dimensions(db, agency.id).await?;
    // The years the community survey has answers in, on the agency's calendar.
    let (first, last): (Option<i64>, Option<i64>) = crate::on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT MIN(submitted_at), MAX(submitted_at) FROM responses \
             WHERE agency_id = $1 AND survey_id = $2",
        )
        .bind(agency.id)
        .bind(community.id)
        .fetch_one(pool)
        .await
    })?;
    if let (Some(first), Some(last)) = (first, last) {
        let year = |at: i64| {
            chrono::DateTime::from_timestamp(at, 0)
                .map(|t| chrono::Datelike::year(&t.with_timezone(&agency.tz())))
                .unwrap_or_default()
        };
        years.extend((year(first)..=year(last)).map(|y| y.to_string()));
    }
    years.sort();
    years.dedup();
    crate::publish::store::publish(
        db,
        agency.id,
        now,
        &crate::platform::audit::Actor::System("demo"),
        &measures,
        &years,
        "The demo agency's data, published when it was seeded.",
    )
    .await?;
    Ok(())
}

/// The default demo database file, in the current folder.
pub fn default_path() -> PathBuf {
    PathBuf::from("lantern-demo.db")
}

/// Makes way for a fresh demo database at `path`: removes a previous demo database there, and
/// refuses to touch a file that is anything else.
pub async fn clear_previous(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let url = format!("sqlite://{}", path.display());
    let is_demo = match Db::connect_without_migrating(&url).await {
        Ok(db) => {
            let marker: Result<Option<String>, sqlx::Error> = crate::on_db!(&db, |pool| {
                sqlx::query_scalar("SELECT value FROM instance WHERE key = $1")
                    .bind(DEMO_MARKER)
                    .fetch_optional(pool)
                    .await
            });
            db.close().await;
            matches!(marker, Ok(Some(_)))
        }
        Err(_) => false,
    };
    if !is_demo {
        anyhow::bail!(
            "{} exists and is not a Lantern demo database; move it away or pass --database-url to use another database",
            path.display()
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file)
                .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", file.display()))?;
        }
    }
    Ok(())
}
