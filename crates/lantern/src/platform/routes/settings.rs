//! The agency's settings: public profile, time zone, MFA requirement, suppression thresholds.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::platform::agencies::{self, Settings};
use crate::platform::error::{AppResult, FieldError};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

#[derive(Template)]
#[template(path = "platform/settings.html")]
struct SettingsPage<'a> {
    ctx: &'a Ctx,
    s: Settings,
    errors: FormErrors,
    saved: Option<Vec<String>>,
}

pub async fn form(ctx: Ctx) -> AppResult<Response> {
    let s = Settings::of(ctx.agency()?);
    page(SettingsPage {
        ctx: &ctx,
        s,
        errors: FormErrors::default(),
        saved: None,
    })
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    about_en: String,
    #[serde(default)]
    about_es: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    mfa_required: Option<String>,
    #[serde(default)]
    small_cell_threshold: String,
    #[serde(default)]
    anonymity_threshold: String,
}

pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<SettingsForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let mut errors = Vec::new();
    let mut number = |field: &str, raw: &str, label: &str| match raw.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new(
                field,
                format!("{label} must be a whole number"),
            ));
            0
        }
    };
    let small = number(
        "small_cell_threshold",
        &f.small_cell_threshold,
        "Small-cell threshold",
    );
    let anonymity = number(
        "anonymity_threshold",
        &f.anonymity_threshold,
        "Anonymity threshold",
    );
    let settings = Settings {
        name: f.name,
        timezone: f.timezone,
        about_en: f.about_en,
        about_es: f.about_es,
        contact_email: f.contact_email,
        contact_phone: f.contact_phone,
        address: f.address,
        website: f.website,
        mfa_required: f.mfa_required.is_some(),
        small_cell_threshold: small,
        anonymity_threshold: anonymity,
    };
    if !errors.is_empty() {
        return page(SettingsPage {
            ctx: &ctx,
            s: settings,
            errors: FormErrors(errors),
            saved: None,
        });
    }
    let now = state.clock.unix();
    match agencies::update_settings(
        &state.db,
        agency,
        settings.clone(),
        &ctx.actor(),
        ctx.ip().as_deref(),
        now,
    )
    .await?
    {
        Ok(changed) => {
            // Public pages (and what caches keep of them) say the new name, threshold, contact.
            state.agency_changed(&agency.slug);
            let fresh = agencies::by_id(&state.db, agency.id)
                .await?
                .unwrap_or_else(|| agency.clone());
            let mut ctx = ctx.clone();
            ctx.agency = Some(std::sync::Arc::new(fresh.clone()));
            page(SettingsPage {
                ctx: &ctx,
                s: Settings::of(&fresh),
                errors: FormErrors::default(),
                saved: Some(changed),
            })
        }
        Err(errors) => page(SettingsPage {
            ctx: &ctx,
            s: settings,
            errors: FormErrors(errors),
            saved: None,
        }),
    }
}
