//! The platform's pages: signing in, one's own account, and the admin pages (accounts,
//! settings, API tokens, the audit log) plus the officer roster.

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

mod account;
mod audit;
mod roster;
mod settings;
pub mod signin;
mod tokens;
mod users;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/{agency}/signin",
            get(signin::form)
                .post(signin::submit)
                .layer(signin::rate_limit(state)),
        )
        .route(
            "/{agency}/signin/mfa",
            get(signin::mfa_form).post(signin::mfa_submit),
        )
        .route("/{agency}/signout", post(signin::sign_out))
        .route("/{agency}/account", get(account::show))
        .route("/{agency}/account/password", post(account::change_password))
        .route(
            "/{agency}/account/mfa",
            get(account::mfa_form).post(account::mfa_submit),
        )
        .route(
            "/{agency}/staff/users",
            get(users::list).post(users::create),
        )
        .route(
            "/{agency}/staff/users/{id}",
            get(users::edit).post(users::update),
        )
        .route(
            "/{agency}/staff/settings",
            get(settings::form).post(settings::save),
        )
        .route(
            "/{agency}/staff/tokens",
            get(tokens::list).post(tokens::create),
        )
        .route("/{agency}/staff/tokens/{id}/revoke", post(tokens::revoke))
        .route("/{agency}/staff/audit", get(audit::browse))
        .route("/{agency}/audit-heads", get(audit::public_heads))
        .route("/{agency}/audit-heads.json", get(audit::public_heads_json))
        .route("/{agency}/staff/officers", get(roster::officers))
        .route("/{agency}/staff/officers/{id}", get(roster::officer))
}
