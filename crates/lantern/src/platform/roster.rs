//! The agency's reference data that every capability reads: districts with their census
//! population, units, officers and their assignments.

use serde::Serialize;

use crate::platform::db::{Db, Tx};
use crate::{on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct District {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// A district with its total population (sum of the race margin).
#[derive(Clone, Debug, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct DistrictPopulation {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub population: i64,
}

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Margin {
    pub geography: String,
    pub dimension: String,
    pub category: String,
    pub population: i64,
}

/// An officer as the roster lists them: current unit from the open assignment.
#[derive(Clone, Debug, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct OfficerRow {
    pub id: i64,
    pub badge: String,
    pub first_name: String,
    pub last_name: String,
    pub rank: String,
    pub hire_date: String,
    pub active: bool,
    pub unit: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Officer {
    pub id: i64,
    pub badge: String,
    pub first_name: String,
    pub last_name: String,
    pub rank: String,
    pub sex: String,
    pub race: String,
    pub hire_date: String,
    pub active: bool,
}

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Assignment {
    pub unit: String,
    pub start_date: String,
    pub end_date: Option<String>,
}

pub async fn districts(db: &Db, agency_id: i64) -> Result<Vec<DistrictPopulation>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT d.id, d.code, d.name, CAST(COALESCE(SUM(m.population), 0) AS BIGINT) AS population \
             FROM districts d LEFT JOIN population_margins m \
               ON m.agency_id = d.agency_id AND m.geography = d.code AND m.dimension = 'race' \
             WHERE d.agency_id = $1 GROUP BY d.id, d.code, d.name ORDER BY d.code",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

/// Where the population figures come from (e.g. "ACS 2017 5-year"), for the caption.
pub async fn population_sources(db: &Db, agency_id: i64) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT DISTINCT source FROM population_margins WHERE agency_id = $1 AND source <> '' ORDER BY source",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

pub async fn margins(db: &Db, agency_id: i64) -> Result<Vec<Margin>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT geography, dimension, category, population FROM population_margins \
             WHERE agency_id = $1 ORDER BY geography, dimension, category",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

pub async fn officers(db: &Db, agency_id: i64) -> Result<Vec<OfficerRow>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT o.id, o.badge, o.first_name, o.last_name, o.rank, o.hire_date, o.active, u.name AS unit \
             FROM officers o \
             LEFT JOIN officer_assignments a \
               ON a.agency_id = o.agency_id AND a.officer_id = o.id AND a.end_date IS NULL \
             LEFT JOIN units u ON u.agency_id = a.agency_id AND u.id = a.unit_id \
             WHERE o.agency_id = $1 ORDER BY o.last_name, o.first_name, o.badge",
        )
        .bind(agency_id)
        .fetch_all(pool)
        .await
    })
}

pub async fn officer(db: &Db, agency_id: i64, id: i64) -> Result<Option<Officer>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, badge, first_name, last_name, rank, sex, race, hire_date, active \
             FROM officers WHERE agency_id = $1 AND id = $2",
        )
        .bind(agency_id)
        .bind(id)
        .fetch_optional(pool)
        .await
    })
}

pub async fn assignments(
    db: &Db,
    agency_id: i64,
    officer_id: i64,
) -> Result<Vec<Assignment>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT u.name AS unit, a.start_date, a.end_date FROM officer_assignments a \
             JOIN units u ON u.agency_id = a.agency_id AND u.id = a.unit_id \
             WHERE a.agency_id = $1 AND a.officer_id = $2 ORDER BY a.start_date DESC",
        )
        .bind(agency_id)
        .bind(officer_id)
        .fetch_all(pool)
        .await
    })
}

/// Counts for the staff home: (active officers, units, districts).
pub async fn counts(db: &Db, agency_id: i64) -> Result<(i64, i64, i64), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM officers WHERE agency_id = $1 AND active = TRUE), \
                    (SELECT COUNT(*) FROM units WHERE agency_id = $1), \
                    (SELECT COUNT(*) FROM districts WHERE agency_id = $1)",
        )
        .bind(agency_id)
        .fetch_one(pool)
        .await
    })
}

// Writes, used by the demo generator and (later) imports. Each takes the caller's transaction.

pub async fn insert_district(
    tx: &mut Tx,
    agency_id: i64,
    code: &str,
    name: &str,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO districts (agency_id, code, name) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(agency_id)
        .bind(code)
        .bind(name)
        .fetch_one(&mut **c)
        .await
    })
}

pub async fn insert_margin(
    tx: &mut Tx,
    agency_id: i64,
    geography: &str,
    dimension: &str,
    category: &str,
    population: i64,
    source: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO population_margins (agency_id, geography, dimension, category, population, source) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(agency_id)
        .bind(geography)
        .bind(dimension)
        .bind(category)
        .bind(population)
        .bind(source)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn insert_unit(
    tx: &mut Tx,
    agency_id: i64,
    name: &str,
    kind: &str,
    district_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query_scalar("INSERT INTO units (agency_id, name, kind, district_id) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(agency_id)
            .bind(name)
            .bind(kind)
            .bind(district_id)
            .fetch_one(&mut **c)
            .await
    })
}

/// A new officer with their assignment history (oldest first; the last may be open).
#[derive(Clone, Debug)]
pub struct NewOfficer {
    pub badge: String,
    pub first_name: String,
    pub last_name: String,
    pub rank: String,
    pub sex: String,
    pub race: String,
    pub hire_date: String,
    pub active: bool,
    pub assignments: Vec<(i64, String, Option<String>)>,
}

pub async fn insert_officer(
    tx: &mut Tx,
    agency_id: i64,
    o: &NewOfficer,
) -> Result<i64, sqlx::Error> {
    let id: i64 = on_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO officers (agency_id, badge, first_name, last_name, rank, sex, race, hire_date, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(agency_id)
        .bind(&o.badge)
        .bind(&o.first_name)
        .bind(&o.last_name)
        .bind(&o.rank)
        .bind(&o.sex)
        .bind(&o.race)
        .bind(&o.hire_date)
        .bind(o.active)
        .fetch_one(&mut **c)
        .await
    })?;
    for (unit_id, start, end) in &o.assignments {
        on_tx!(tx, |c| {
            sqlx::query(
                "INSERT INTO officer_assignments (agency_id, officer_id, unit_id, start_date, end_date) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(agency_id)
            .bind(id)
            .bind(unit_id)
            .bind(start)
            .bind(end.as_deref())
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    Ok(id)
}
