//! The staff home: what exists in the agency, in numbers, and where to go next.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::platform::accounts::{self, Role};
use crate::platform::error::AppResult;
use crate::platform::policy::Permission;
use crate::platform::{api_tokens, audit, roster};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::fmt::thousands;
use crate::web::page;

pub fn router() -> Router<AppState> {
    Router::new().route("/{agency}/staff", get(home))
}

/// One figure on the staff home.
pub struct Card {
    pub title: &'static str,
    pub figure: String,
    pub note: String,
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "web/staff_home.html")]
struct StaffHome<'a> {
    ctx: &'a Ctx,
    /// Failed attempts on the account since its last sign-in, shown once.
    signin_warning: Option<String>,
    cards: Vec<Card>,
    accounts: Vec<(&'static str, i64)>,
}

async fn home(
    State(state): State<AppState>,
    ctx: Ctx,
    session: tower_sessions::Session,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let signin_warning: Option<String> = session
        .remove(crate::platform::routes::signin::SIGNIN_WARNING)
        .await
        .map_err(anyhow::Error::from)?;
    let (officers, units, districts) = roster::counts(&state.db, agency.id).await?;
    let population: i64 = roster::districts(&state.db, agency.id)
        .await?
        .iter()
        .map(|d| d.population)
        .sum();
    let by_role = accounts::count_by_role(&state.db, agency.id).await?;
    let accounts: Vec<(&'static str, i64)> = Role::ALL
        .into_iter()
        .map(|r| {
            (
                r.label(),
                by_role
                    .iter()
                    .find(|(name, _)| name == r.as_str())
                    .map_or(0, |(_, n)| *n),
            )
        })
        .collect();
    let week_ago = state.clock.unix() - 7 * 24 * 3600;

    let mut cards = vec![
        Card {
            title: "Officers",
            figure: thousands(officers),
            note: format!("active, in {units} units"),
            href: ctx
                .can(Permission::ViewRoster)
                .then(|| ctx.staff_url("/staff/officers")),
        },
        Card {
            title: "Districts",
            figure: thousands(districts),
            note: format!("{} residents (census)", thousands(population)),
            href: Some(format!("{}#districts", ctx.url(""))),
        },
        Card {
            title: "Staff accounts",
            figure: thousands(accounts.iter().map(|(_, n)| n).sum::<i64>()),
            note: "active accounts".to_string(),
            href: ctx
                .can(Permission::ManageUsers)
                .then(|| ctx.staff_url("/staff/users")),
        },
    ];
    if ctx.can(Permission::ViewSurveyResults) {
        let surveys = crate::surveys::store::list(&state.db, agency.id).await?;
        let open = surveys.iter().filter(|s| s.is_open()).count() as i64;
        let month_ago = state.clock.unix() - 30 * 24 * 3600;
        let recent: i64 = crate::on_db!(&state.db, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM responses WHERE agency_id = $1 AND status = 'ok' AND submitted_at >= $2",
            )
            .bind(agency.id)
            .bind(month_ago)
            .fetch_one(pool)
            .await
        })?;
        cards.push(Card {
            title: "Surveys",
            figure: thousands(open),
            note: format!("open, {} answers in the last 30 days", thousands(recent)),
            href: Some(ctx.staff_url("/staff/surveys")),
        });
    }
    if ctx.can(Permission::ViewStops) {
        let (stops, imports) = crate::transparency::store::counts(&state.db, agency.id).await?;
        cards.push(Card {
            title: "Stops",
            figure: thousands(stops),
            note: format!("on record, from {imports} imports"),
            href: Some(ctx.staff_url("/staff/stops")),
        });
    }
    if ctx.can(Permission::ViewAudit) {
        cards.push(Card {
            title: "Audit log",
            figure: thousands(audit::count_since(&state.db, agency.id, week_ago).await?),
            note: "entries in the last 7 days".to_string(),
            href: Some(ctx.staff_url("/staff/audit")),
        });
    }
    if ctx.can(Permission::ManageApiTokens) {
        cards.push(Card {
            title: "API tokens",
            figure: thousands(api_tokens::count_active(&state.db, agency.id).await?),
            note: "active integrations".to_string(),
            href: Some(ctx.staff_url("/staff/tokens")),
        });
    }
    page(StaffHome {
        ctx: &ctx,
        signin_warning,
        cards,
        accounts,
    })
}
