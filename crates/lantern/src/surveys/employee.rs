//! Anonymous employee surveys.
//!
//! Staff are invited through their accounts and answer while signed in, but the answers are
//! stored apart from the account: `employee_invitations` knows who was invited and whether
//! they responded (no time), `employee_responses` holds answers under a random key with only
//! the day. Nothing links the two, results hide any group below the agency's anonymity
//! threshold (and its complement), and the submission is not written to the audit chain.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::model::Kind;
use super::respond::{self, Entry};
use super::staff::load;
use super::store::{self, Survey};
use super::writer::Link;
use crate::platform::accounts::Role;
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;
use crate::{on_db, on_tx};

/// (invited, responded) for a survey.
pub async fn counts(
    state: &AppState,
    agency_id: i64,
    survey_id: i64,
) -> Result<(i64, i64), sqlx::Error> {
    on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN responded THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM employee_invitations WHERE agency_id = $1 AND survey_id = $2",
        )
        .bind(agency_id)
        .bind(survey_id)
        .fetch_one(pool)
        .await
    })
}

#[derive(Deserialize)]
pub struct InviteForm {
    /// "all", or one role name.
    #[serde(default)]
    who: String,
}

/// Invites every active account (or those of one role) that is not invited yet.
pub async fn invite(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    axum::Form(f): axum::Form<InviteForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = load(&state, &ctx, id).await?;
    if survey.kind() != Kind::Employee {
        return Err(AppError::BadRequest(
            "Only employee surveys invite staff".into(),
        ));
    }
    let role: Option<Role> = match f.who.as_str() {
        "all" | "" => None,
        r => Some(r.parse().map_err(AppError::BadRequest)?),
    };
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let added = on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO employee_invitations (agency_id, survey_id, user_id, invited_at) \
             SELECT agency_id, $2, id, $3 FROM users WHERE agency_id = $1 AND active = TRUE AND ($4 = '' OR role = $4) \
             ON CONFLICT (agency_id, survey_id, user_id) DO NOTHING",
        )
        .bind(agency.id)
        .bind(survey.id)
        .bind(now)
        .bind(role.map(|r| r.as_str()).unwrap_or(""))
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected())
    })?;
    audit::append(
        &mut tx,
        agency.id,
        now,
        &Event::new(
            &ctx.actor(),
            "survey.staff_invited",
            format!("survey:{}", survey.id),
        )
        .detail(serde_json::json!({"who": f.who, "added": added}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&ctx.staff_url(&format!("/staff/surveys/{id}"))).into_response())
}

pub struct MySurvey {
    pub id: i64,
    pub title: String,
    pub responded: bool,
}

#[derive(Template)]
#[template(path = "surveys/mine.html")]
struct MinePage<'a> {
    ctx: &'a Ctx,
    surveys: Vec<MySurvey>,
    done: bool,
}

/// The employee surveys this person is invited to.
pub async fn mine(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<Done>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let user = ctx.require_user()?;
    let rows: Vec<(i64, bool)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT i.survey_id, i.responded FROM employee_invitations i JOIN surveys s ON s.agency_id = i.agency_id AND s.id = i.survey_id \
             WHERE i.agency_id = $1 AND i.user_id = $2 AND s.status = 'open' ORDER BY i.invited_at DESC",
        )
        .bind(agency.id)
        .bind(user.id)
        .fetch_all(pool)
        .await
    })?;
    let mut surveys = Vec::new();
    for (id, responded) in rows {
        let Some(s) = store::get(&state.db, agency.id, id).await? else {
            continue;
        };
        let title = match s.current_version {
            Some(v) => state
                .surveys()
                .versions
                .get(&state.db, agency.id, v)
                .await?
                .map(|v| v.definition.title.get(ctx.lang()).to_string())
                .unwrap_or(s.name.clone()),
            None => s.name.clone(),
        };
        surveys.push(MySurvey {
            id,
            title,
            responded,
        });
    }
    page(MinePage {
        ctx: &ctx,
        surveys,
        done: q.done.is_some(),
    })
}

async fn entry(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Result<Entry, Response>> {
    let agency = ctx.agency()?;
    let user = ctx.require_user()?;
    let survey: Survey = load(state, ctx, id).await?;
    if survey.kind() != Kind::Employee {
        return Err(AppError::NotFound);
    }
    let responded: Option<bool> = on_db!(&state.db, |pool| {
        sqlx::query_scalar("SELECT responded FROM employee_invitations WHERE agency_id = $1 AND survey_id = $2 AND user_id = $3")
            .bind(agency.id)
            .bind(survey.id)
            .bind(user.id)
            .fetch_optional(pool)
            .await
    })?;
    match responded {
        None => return Err(AppError::NotFound),
        Some(true) => {
            return Ok(Err(respond::message(
                ctx,
                axum::http::StatusCode::CONFLICT,
                "survey.already_title",
                "survey.already",
            )?));
        }
        Some(false) => {}
    }
    let version = match respond::live_version(state, ctx, &survey).await? {
        Ok(v) => v,
        Err(closed) => return Ok(Err(closed)),
    };
    // Only the day, in the agency's zone: no time of day to match against anything.
    let day = state
        .clock
        .now()
        .with_timezone(&agency.tz())
        .format("%Y-%m-%d")
        .to_string();
    Ok(Ok(Entry {
        action: ctx.staff_url(&format!("/account/surveys/{id}")),
        thanks: ctx.staff_url("/account/surveys?done=1"),
        channel: String::new(),
        carry: Vec::new(),
        officer_id: None,
        contact_id: None,
        link: Link::Employee {
            user_id: user.id,
            token: crate::platform::secrets::random_token(16),
            day,
        },
        survey,
        version,
    }))
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub done: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    match entry(&state, &ctx, id).await? {
        Ok(e) => respond::start(&ctx, &e),
        Err(r) => Ok(r),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    body: Bytes,
) -> AppResult<Response> {
    match entry(&state, &ctx, id).await? {
        // No address is kept for employee answers.
        Ok(e) => respond::step(&state, &ctx, &e, respond::form_values(&body), None).await,
        Err(r) => Ok(r),
    }
}
