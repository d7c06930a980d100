//! Agencies: the tenants of a deployment. Every other row belongs to one.

use serde::Serialize;

use crate::platform::audit::{self, Actor, Event};
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::FieldError;
use crate::{on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct Agency {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub about_en: String,
    pub about_es: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub address: String,
    pub website: String,
    pub mfa_required: bool,
    pub small_cell_threshold: i64,
    pub anonymity_threshold: i64,
    pub created_at: i64,
}

impl Agency {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn about(&self, lang: crate::web::i18n::Lang) -> &str {
        match lang {
            crate::web::i18n::Lang::Es if !self.about_es.is_empty() => &self.about_es,
            _ => &self.about_en,
        }
    }
}

const AGENCY_COLUMNS: &str = "id, slug, name, timezone, latitude, longitude, about_en, about_es, contact_email, \
     contact_phone, address, website, mfa_required, small_cell_threshold, anonymity_threshold, created_at";

/// Path segments that can never be an agency slug, because the router or the language
/// prefix uses them.
const RESERVED_SLUGS: &[&str] = &[
    "api",
    "static",
    "healthz",
    "en",
    "es",
    "admin",
    "staff",
    "signin",
    "signout",
    "favicon.ico",
    "robots.txt",
];

pub fn validate_slug(raw: &str) -> Result<String, String> {
    let slug = raw.trim().to_lowercase();
    if slug.len() < 2 || slug.len() > 40 {
        return Err("must be 2 to 40 characters".to_string());
    }
    if !slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || slug.starts_with('-')
        || slug.ends_with('-')
    {
        return Err(
            "may contain only letters a–z, digits and inner hyphens, e.g. riverton-pd".to_string(),
        );
    }
    if RESERVED_SLUGS.contains(&slug.as_str()) {
        return Err(format!("{slug:?} is reserved for Lantern's own pages"));
    }
    Ok(slug)
}

pub fn validate_timezone(raw: &str) -> Result<String, String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| format!("{raw:?} is not an IANA time zone such as America/Chicago"))
}

#[derive(Clone, Debug)]
pub struct NewAgency {
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl NewAgency {
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match validate_slug(&self.slug) {
            Ok(s) => self.slug = s,
            Err(e) => errors.push(FieldError::new("slug", format!("Slug {e}"))),
        }
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 120 {
            errors.push(FieldError::new("name", "Name must be 1 to 120 characters"));
        }
        match validate_timezone(&self.timezone) {
            Ok(tz) => self.timezone = tz,
            Err(e) => errors.push(FieldError::new("timezone", format!("Time zone {e}"))),
        }
        if let Some(lat) = self.latitude
            && !(-90.0..=90.0).contains(&lat)
        {
            errors.push(FieldError::new(
                "latitude",
                "Latitude must be between -90 and 90",
            ));
        }
        if let Some(lng) = self.longitude
            && !(-180.0..=180.0).contains(&lng)
        {
            errors.push(FieldError::new(
                "longitude",
                "Longitude must be between -180 and 180",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAgencyError {
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates an agency, starts its audit chain and records the creation as the chain's first row.
pub async fn create(
    db: &Db,
    mut new: NewAgency,
    actor: &Actor,
    now: i64,
) -> Result<Agency, CreateAgencyError> {
    new.validate().map_err(CreateAgencyError::Invalid)?;
    let mut tx = db.begin().await?;
    let inserted: Result<i64, sqlx::Error> = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO agencies (slug, name, timezone, latitude, longitude, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.slug)
        .bind(&new.name)
        .bind(&new.timezone)
        .bind(new.latitude)
        .bind(new.longitude)
        .bind(now)
        .fetch_one(&mut **c)
        .await
    });
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(CreateAgencyError::Invalid(vec![FieldError::new(
                "slug",
                format!("An agency with slug {:?} already exists", new.slug),
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    audit::create_head(&mut tx, id).await?;
    audit::append(
        &mut tx,
        id,
        now,
        &Event::new(actor, "agency.created", format!("agency:{}", new.slug))
            .detail(serde_json::json!({"name": new.name, "timezone": new.timezone})),
    )
    .await?;
    tx.commit().await?;
    Ok(by_id(db, id)
        .await?
        .expect("the agency just created exists"))
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Agency>, sqlx::Error> {
    let sql = format!("SELECT {AGENCY_COLUMNS} FROM agencies WHERE slug = $1");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(slug)
            .fetch_optional(pool)
            .await
    })
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<Agency>, sqlx::Error> {
    let sql = format!("SELECT {AGENCY_COLUMNS} FROM agencies WHERE id = $1");
    on_db!(db, |pool| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

pub async fn list(db: &Db) -> Result<Vec<Agency>, sqlx::Error> {
    let sql = format!("SELECT {AGENCY_COLUMNS} FROM agencies ORDER BY name");
    on_db!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(pool)
        .await)
}

/// What an admin edits on the settings page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    pub name: String,
    pub timezone: String,
    pub about_en: String,
    pub about_es: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub address: String,
    pub website: String,
    pub mfa_required: bool,
    pub small_cell_threshold: i64,
    pub anonymity_threshold: i64,
}

impl Settings {
    pub fn of(a: &Agency) -> Settings {
        Settings {
            name: a.name.clone(),
            timezone: a.timezone.clone(),
            about_en: a.about_en.clone(),
            about_es: a.about_es.clone(),
            contact_email: a.contact_email.clone(),
            contact_phone: a.contact_phone.clone(),
            address: a.address.clone(),
            website: a.website.clone(),
            mfa_required: a.mfa_required,
            small_cell_threshold: a.small_cell_threshold,
            anonymity_threshold: a.anonymity_threshold,
        }
    }

    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for s in [
            &mut self.name,
            &mut self.about_en,
            &mut self.about_es,
            &mut self.contact_email,
            &mut self.contact_phone,
            &mut self.address,
            &mut self.website,
        ] {
            *s = s.trim().to_string();
        }
        if self.name.is_empty() || self.name.chars().count() > 120 {
            errors.push(FieldError::new("name", "Name must be 1 to 120 characters"));
        }
        match validate_timezone(&self.timezone) {
            Ok(tz) => self.timezone = tz,
            Err(e) => errors.push(FieldError::new("timezone", format!("Time zone {e}"))),
        }
        for (field, text) in [("about_en", &self.about_en), ("about_es", &self.about_es)] {
            if text.chars().count() > 4000 {
                errors.push(FieldError::new(
                    field,
                    "About text must be at most 4,000 characters",
                ));
            }
        }
        if !self.contact_email.is_empty()
            && !crate::platform::accounts::looks_like_email(&self.contact_email)
        {
            errors.push(FieldError::new(
                "contact_email",
                "E-mail must look like name@example.org",
            ));
        }
        let web_address =
            self.website.starts_with("https://") || self.website.starts_with("http://");
        if !self.website.is_empty() && !web_address {
            errors.push(FieldError::new(
                "website",
                "Website must start with https://",
            ));
        }
        if !(1..=1000).contains(&self.small_cell_threshold) {
            errors.push(FieldError::new(
                "small_cell_threshold",
                "Small-cell threshold must be between 1 and 1,000",
            ));
        }
        if !(3..=1000).contains(&self.anonymity_threshold) {
            errors.push(FieldError::new(
                "anonymity_threshold",
                "Anonymity threshold must be at least 3 (and at most 1,000)",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The fields that differ from `old`, as {field: [old, new]}, for the audit row.
    pub fn diff(&self, old: &Settings) -> serde_json::Map<String, serde_json::Value> {
        let new = serde_json::to_value(self).expect("settings serialise");
        let old = serde_json::to_value(old).expect("settings serialise");
        let mut changed = serde_json::Map::new();
        if let (serde_json::Value::Object(new), serde_json::Value::Object(old)) = (new, old) {
            for (k, v) in new {
                if old.get(&k) != Some(&v) {
                    changed.insert(k.clone(), serde_json::json!([old.get(&k), v]));
                }
            }
        }
        changed
    }
}

/// Saves settings and records what changed, in one transaction. Returns the changed fields.
pub async fn update_settings(
    db: &Db,
    agency: &Agency,
    mut settings: Settings,
    actor: &Actor,
    ip: Option<&str>,
    now: i64,
) -> Result<Result<Vec<String>, Vec<FieldError>>, sqlx::Error> {
    if let Err(errors) = settings.validate() {
        return Ok(Err(errors));
    }
    let changed = settings.diff(&Settings::of(agency));
    if changed.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE agencies SET name = $2, timezone = $3, about_en = $4, about_es = $5, contact_email = $6, \
             contact_phone = $7, address = $8, website = $9, mfa_required = $10, small_cell_threshold = $11, \
             anonymity_threshold = $12 WHERE id = $1",
        )
        .bind(agency.id)
        .bind(&settings.name)
        .bind(&settings.timezone)
        .bind(&settings.about_en)
        .bind(&settings.about_es)
        .bind(&settings.contact_email)
        .bind(&settings.contact_phone)
        .bind(&settings.address)
        .bind(&settings.website)
        .bind(settings.mfa_required)
        .bind(settings.small_cell_threshold)
        .bind(settings.anonymity_threshold)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let fields: Vec<String> = changed.keys().cloned().collect();
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(actor, "settings.changed", format!("agency:{}", agency.slug))
            .detail(serde_json::Value::Object(changed))
            .ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(fields))
}

/// Turns the MFA requirement on or off without an audit row (tests and set-up only).
pub async fn set_mfa_required(db: &Db, agency_id: i64, required: bool) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE agencies SET mfa_required = $2 WHERE id = $1")
            .bind(agency_id)
            .bind(required)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(validate_slug(" Riverton-PD ").unwrap(), "riverton-pd");
        assert!(validate_slug("r").is_err());
        assert!(validate_slug("-x-").is_err());
        assert!(validate_slug("a b").is_err());
        assert!(validate_slug("api").unwrap_err().contains("reserved"));
        assert!(validate_slug("es").unwrap_err().contains("reserved"));
    }

    #[test]
    fn timezones() {
        assert_eq!(
            validate_timezone("America/Chicago").unwrap(),
            "America/Chicago"
        );
        assert!(
            validate_timezone("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }

    #[test]
    fn settings_diff_names_changed_fields_only() {
        let old = Settings {
            name: "A".into(),
            timezone: "UTC".into(),
            about_en: String::new(),
            about_es: String::new(),
            contact_email: String::new(),
            contact_phone: String::new(),
            address: String::new(),
            website: String::new(),
            mfa_required: true,
            small_cell_threshold: 10,
            anonymity_threshold: 5,
        };
        let mut new = old.clone();
        new.mfa_required = false;
        new.anonymity_threshold = 7;
        let diff = new.diff(&old);
        let keys: Vec<&String> = diff.keys().collect();
        assert_eq!(keys, ["anonymity_threshold", "mfa_required"]);
        assert_eq!(diff["mfa_required"], serde_json::json!([true, false]));
    }

    #[test]
    fn anonymity_threshold_never_below_three() {
        let mut s = Settings {
            name: "A".into(),
            timezone: "UTC".into(),
            about_en: String::new(),
            about_es: String::new(),
            contact_email: String::new(),
            contact_phone: String::new(),
            address: String::new(),
            website: String::new(),
            mfa_required: true,
            small_cell_threshold: 10,
            anonymity_threshold: 2,
        };
        let errors = s.validate().unwrap_err();
        assert_eq!(errors[0].field, "anonymity_threshold");
    }
}
