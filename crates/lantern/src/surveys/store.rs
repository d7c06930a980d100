//! Survey SQL: surveys, their versions, and the lookups the public pages need.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::model::{Definition, Kind};
use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::FieldError;
use crate::{on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Survey {
    pub agency_id: i64,
    pub id: i64,
    kind: String,
    pub name: String,
    pub status: String,
    pub draft: String,
    pub current_version: Option<i64>,
    pub public_code: String,
    pub one_per_device: bool,
    pub publish_results: bool,
    pub results_epoch: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Survey {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Community)
    }

    pub fn is_open(&self) -> bool {
        self.status == "open"
    }

    /// The definition being edited.
    pub fn draft(&self) -> Definition {
        serde_json::from_str(&self.draft).expect("drafts are written by Lantern and always parse")
    }

    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "open" => "Open",
            "closed" => "Closed",
            _ => "Draft",
        }
    }
}

const COLUMNS: &str = "agency_id, id, kind, name, status, draft, current_version, public_code, one_per_device, \
     publish_results, results_epoch, created_at, updated_at";

/// Short codes for public links: 8 characters from an alphabet without look-alikes (no 0/O,
/// 1/l/I), easy to type from a flyer.
pub fn new_code() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let bytes = crate::platform::secrets::random_bytes::<8>();
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// A survey to create: its kind, its name on staff pages, and its first draft.
pub struct NewSurvey<'a> {
    pub kind: Kind,
    pub name: &'a str,
    pub definition: &'a Definition,
}

pub async fn create(
    db: &Db,
    agency_id: i64,
    new: NewSurvey<'_>,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<Survey, sqlx::Error> {
    let NewSurvey {
        kind,
        name,
        definition,
    } = new;
    let draft = serde_json::to_string(definition).expect("definitions serialise");
    let mut tx = db.begin().await?;
    let id: i64 = loop {
        let inserted = on_tx!(&mut tx, |c| {
            sqlx::query_scalar(
                "INSERT INTO surveys (agency_id, kind, name, draft, public_code, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(agency_id)
            .bind(kind.as_str())
            .bind(name)
            .bind(&draft)
            .bind(new_code())
            .bind(now)
            .fetch_one(&mut **c)
            .await
        });
        match inserted {
            Ok(id) => break id,
            // A code collision (one in 10^12): draw another.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    };
    audit::append(
        &mut tx,
        agency_id,
        now,
        &Event::new(actor, "survey.created", format!("survey:{id}"))
            .detail(serde_json::json!({"name": name, "kind": kind.as_str()}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(get(db, agency_id, id)
        .await?
        .expect("the survey just created exists"))
}

pub async fn get(db: &Db, agency_id: i64, id: i64) -> Result<Option<Survey>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM surveys WHERE agency_id = $1 AND id = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

pub async fn by_code(db: &Db, agency_id: i64, code: &str) -> Result<Option<Survey>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM surveys WHERE agency_id = $1 AND public_code = $2");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(agency_id)
            .bind(code)
            .fetch_optional(pool)
            .await
    })
}

pub async fn list(db: &Db, agency_id: i64) -> Result<Vec<Survey>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM surveys WHERE agency_id = $1 ORDER BY status = 'closed', updated_at DESC"
    );
    on_db!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(agency_id)
        .fetch_all(pool)
        .await)
}

/// Open surveys that publish a results summary or take public answers, for the public pages.
pub async fn public(db: &Db, agency_id: i64) -> Result<Vec<Survey>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM surveys WHERE agency_id = $1 AND current_version IS NOT NULL \
         AND ((status = 'open' AND kind = 'community') OR publish_results = TRUE) ORDER BY updated_at DESC"
    );
    on_db!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(agency_id)
        .fetch_all(pool)
        .await)
}

/// Responses per survey (employee responses included), for lists.
pub async fn response_counts(db: &Db, agency_id: i64) -> Result<HashMap<i64, i64>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT survey_id, COUNT(*) FROM responses WHERE agency_id = $1 AND status = 'ok' GROUP BY survey_id \
             UNION ALL SELECT survey_id, COUNT(*) FROM employee_responses WHERE agency_id = $1 GROUP BY survey_id",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })?;
    let mut out = HashMap::new();
    for (s, n) in rows {
        *out.entry(s).or_insert(0) += n;
    }
    Ok(out)
}

pub async fn save_draft(
    db: &Db,
    agency_id: i64,
    id: i64,
    definition: &Definition,
    now: i64,
) -> Result<(), sqlx::Error> {
    let draft = serde_json::to_string(definition).expect("definitions serialise");
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE surveys SET draft = $3, updated_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(&draft)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn rename(
    db: &Db,
    agency_id: i64,
    id: i64,
    name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE surveys SET name = $3, updated_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Freezes the draft as the next version and opens the survey. The draft must be valid.
pub async fn publish(
    db: &Db,
    survey: &Survey,
    definition: &Definition,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<Result<i64, Vec<FieldError>>, sqlx::Error> {
    if let Err(errors) = definition.validate() {
        return Ok(Err(errors));
    }
    let json = serde_json::to_string(definition).expect("definitions serialise");
    let mut tx = db.begin().await?;
    let number: i64 = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(number), 0) + 1 AS BIGINT) FROM survey_versions WHERE agency_id = $1 AND survey_id = $2",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .fetch_one(&mut **c)
        .await
    })?;
    let version: i64 = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO survey_versions (agency_id, survey_id, number, definition, published_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(number)
        .bind(&json)
        .bind(now)
        .fetch_one(&mut **c)
        .await
    })?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE surveys SET current_version = $3, status = 'open', updated_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(version)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    audit::append(
        &mut tx,
        survey.agency_id,
        now,
        &Event::new(actor, "survey.published", format!("survey:{}", survey.id))
            .detail(serde_json::json!({"version": number}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(number))
}

/// Opens or closes a published survey.
pub async fn set_status(
    db: &Db,
    survey: &Survey,
    status: &str,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE surveys SET status = $3, updated_at = $4 WHERE agency_id = $1 AND id = $2",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(status)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let action = if status == "closed" {
        "survey.closed"
    } else {
        "survey.reopened"
    };
    audit::append(
        &mut tx,
        survey.agency_id,
        now,
        &Event::new(actor, action, format!("survey:{}", survey.id)).ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_options(
    db: &Db,
    survey: &Survey,
    one_per_device: bool,
    publish_results: bool,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE surveys SET one_per_device = $3, publish_results = $4, updated_at = $5 WHERE agency_id = $1 AND id = $2",
        )
        .bind(survey.agency_id)
        .bind(survey.id)
        .bind(one_per_device)
        .bind(publish_results)
        .bind(now)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    audit::append(
        &mut tx,
        survey.agency_id,
        now,
        &Event::new(actor, "survey.options_changed", format!("survey:{}", survey.id))
            .detail(serde_json::json!({"one_per_device": one_per_device, "publish_results": publish_results}))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A published version.
#[derive(Clone, Debug)]
pub struct Version {
    pub id: i64,
    pub number: i64,
    pub definition: Arc<Definition>,
}

/// Published versions, parsed once: they never change after publishing.
#[derive(Default)]
pub struct Versions {
    map: Mutex<HashMap<(i64, i64), Version>>,
}

impl Versions {
    pub async fn get(
        &self,
        db: &Db,
        agency_id: i64,
        id: i64,
    ) -> Result<Option<Version>, sqlx::Error> {
        if let Some(v) = self
            .map
            .lock()
            .expect("version cache lock")
            .get(&(agency_id, id))
        {
            return Ok(Some(v.clone()));
        }
        let Some(v) = load_version(db, agency_id, id).await? else {
            return Ok(None);
        };
        self.map
            .lock()
            .expect("version cache lock")
            .insert((agency_id, id), v.clone());
        Ok(Some(v))
    }
}

pub async fn load_version(
    db: &Db,
    agency_id: i64,
    id: i64,
) -> Result<Option<Version>, sqlx::Error> {
    let row: Option<(i64, String)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT number, definition FROM survey_versions WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .fetch_optional(pool)
        .await
    })?;
    let Some((number, json)) = row else {
        return Ok(None);
    };
    let definition: Definition =
        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(Version {
        id,
        number,
        definition: Arc::new(definition),
    }))
}

/// Every version of a survey, oldest first: (id, number, published_at).
pub async fn versions(
    db: &Db,
    agency_id: i64,
    survey_id: i64,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, number, published_at FROM survey_versions WHERE agency_id = $1 AND survey_id = $2 ORDER BY number",
        )
        .bind(agency_id)
        .bind(survey_id)
        .fetch_all(pool)
        .await
    })
}

/// Districts as (code, name), for the district question.
pub async fn district_choices(
    db: &Db,
    agency_id: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    Ok(crate::platform::roster::districts(db, agency_id)
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_short_and_unambiguous() {
        let c = super::new_code();
        assert_eq!(c.len(), 8);
        assert!(c.chars().all(|ch| !"01oil".contains(ch)), "{c}");
        assert_ne!(super::new_code(), c);
    }
}
