//! Admin page for API tokens: create (shown once), revoke.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use crate::platform::accounts::Role;
use crate::platform::api_tokens::{self, ApiToken};
use crate::platform::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

#[derive(Template)]
#[template(path = "platform/tokens.html")]
struct TokensPage<'a> {
    ctx: &'a Ctx,
    tokens: Vec<(ApiToken, String, String)>,
    roles: [Role; 6],
    errors: FormErrors,
    created: Option<(String, String)>,
    message: Option<&'static str>,
    base_url: String,
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    errors: FormErrors,
    created: Option<(String, String)>,
    message: Option<&'static str>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let tz = agency.tz();
    let fmt = |t: Option<i64>| {
        t.map(|t| crate::platform::clock::format_unix(t, tz))
            .unwrap_or_else(|| "never".into())
    };
    let tokens = api_tokens::list(&state.db, agency.id)
        .await?
        .into_iter()
        .map(|t| {
            let created = fmt(Some(t.created_at));
            let used = fmt(t.last_used_at);
            (t, created, used)
        })
        .collect();
    page(TokensPage {
        ctx,
        tokens,
        roles: Role::ALL,
        errors,
        created,
        message,
        base_url: state.config.base_url(),
    })
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    render(&state, &ctx, FormErrors::default(), None, None).await
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<NewTokenForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let mut errors = Vec::new();
    let name = api_tokens::validate_name(&f.name)
        .map_err(|e| errors.push(FieldError::new("name", e)))
        .ok();
    let role = f
        .role
        .parse::<Role>()
        .map_err(|e| errors.push(FieldError::new("role", e)))
        .ok();
    let (Some(name), Some(role)) = (name, role) else {
        return render(&state, &ctx, FormErrors(errors), None, None).await;
    };
    let (token, secret) = api_tokens::create(
        &state.db,
        agency.id,
        &name,
        role,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?;
    render(
        &state,
        &ctx,
        FormErrors::default(),
        Some((token.name, secret)),
        None,
    )
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    if !api_tokens::revoke(
        &state.db,
        agency.id,
        id,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    render(
        &state,
        &ctx,
        FormErrors::default(),
        None,
        Some("The token is revoked. Requests that use it are refused from now on."),
    )
    .await
}
