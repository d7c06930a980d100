//! Publications: which measures and years an agency has made public, by whom and when. The
//! newest publication is what the portal shows; earlier ones stay as the record.

use serde::Serialize;

use crate::platform::audit::{self, Event};
use crate::platform::db::Db;
use crate::{on_db, on_tx};

/// One publication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Publication {
    pub id: i64,
    pub published_at: i64,
    pub published_by: Option<i64>,
    pub measures: Vec<String>,
    pub years: Vec<String>,
    pub note: String,
}

impl Publication {
    pub fn has_measure(&self, id: &str) -> bool {
        self.measures.iter().any(|m| m == id)
    }

    pub fn has_year(&self, year: &str) -> bool {
        self.years.iter().any(|y| y == year)
    }
}

type Row = (i64, i64, Option<i64>, String, String, String);

fn from_row((id, published_at, published_by, measures, years, note): Row) -> Publication {
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    Publication {
        id,
        published_at,
        published_by,
        measures: lines(&measures),
        years: lines(&years),
        note,
    }
}

/// The agency's newest publication, if it has published anything.
pub async fn latest(db: &Db, agency_id: i64) -> Result<Option<Publication>, sqlx::Error> {
    let row: Option<Row> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, published_at, published_by, measures, years, note FROM publications \
             WHERE agency_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(agency_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.map(from_row))
}

/// Every publication of the agency, newest first.
pub async fn history(db: &Db, agency_id: i64) -> Result<Vec<Publication>, sqlx::Error> {
    let rows: Vec<Row> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, published_at, published_by, measures, years, note FROM publications \
             WHERE agency_id = $1 ORDER BY id DESC",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Records a publication and its audit entry in one transaction; returns it once committed.
/// `measures` and `years` are checked by the caller against what exists.
pub async fn publish(
    db: &Db,
    agency_id: i64,
    at: i64,
    event_actor: &audit::Actor,
    measures: &[String],
    years: &[String],
    note: &str,
) -> Result<Publication, sqlx::Error> {
    let mut tx = db.begin().await?;
    // Two analysts publishing at once must not both take the same number. SQLite's write
    // transaction already runs alone; on PostgreSQL, touching the agency's audit head takes
    // the row lock that every audit append of the agency takes, so they run one after the
    // other.
    on_tx!(&mut tx, |c| {
        sqlx::query("UPDATE audit_heads SET seq = seq WHERE agency_id = $1")
            .bind(agency_id)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let (id,): (i64,) = on_tx!(&mut tx, |c| {
        sqlx::query_as("SELECT COALESCE(MAX(id), 0) + 1 FROM publications WHERE agency_id = $1")
            .bind(agency_id)
            .fetch_one(&mut **c)
            .await
    })?;
    let publication = Publication {
        id,
        published_at: at,
        published_by: event_actor.user_id(),
        measures: measures.to_vec(),
        years: years.to_vec(),
        note: note.to_string(),
    };
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO publications (agency_id, id, published_at, published_by, measures, years, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(agency_id)
        .bind(id)
        .bind(at)
        .bind(publication.published_by)
        .bind(measures.join("\n"))
        .bind(years.join("\n"))
        .bind(note)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let event = Event::new(event_actor, "portal.publish", format!("publication:{id}"))
        .detail(serde_json::json!({ "measures": measures, "years": years, "note": note }));
    audit::append(&mut tx, agency_id, at, &event).await?;
    tx.commit().await?;
    Ok(publication)
}
