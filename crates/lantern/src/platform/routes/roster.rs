//! The officer roster, and one officer's personnel record (restricted: every read is audited).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult};
use crate::platform::roster::{self, Assignment, Officer, OfficerRow};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;

#[derive(Template)]
#[template(path = "platform/officers.html")]
struct OfficersPage<'a> {
    ctx: &'a Ctx,
    officers: Vec<OfficerRow>,
    can_open: bool,
}

pub async fn officers(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let officers = roster::officers(&state.db, agency.id).await?;
    page(OfficersPage {
        can_open: ctx.can(crate::platform::policy::Permission::ViewPersonnel),
        ctx: &ctx,
        officers,
    })
}

#[derive(Template)]
#[template(path = "platform/officer.html")]
struct OfficerPage<'a> {
    ctx: &'a Ctx,
    officer: Officer,
    assignments: Vec<Assignment>,
}

pub async fn officer(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let officer = roster::officer(&state.db, agency.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &state.db,
        agency.id,
        state.clock.unix(),
        &Event::new(&ctx.actor(), "personnel.viewed", format!("officer:{id}"))
            .ip(ctx.ip().as_deref()),
    )
    .await?;
    let assignments = roster::assignments(&state.db, agency.id, id).await?;
    page(OfficerPage {
        ctx: &ctx,
        officer,
        assignments,
    })
}
